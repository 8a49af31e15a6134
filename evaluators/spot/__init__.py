"""Can't Be Late (NSDI'24): deadline-aware spot instance scheduling, one region or several.

traces     synthetic availability traces (semi-Markov, calibrated per trace type)
simulator  the job model and the per-tick policy loop, 1..R regions (accounting documented there)
scoring    metrics, validity and feedback for one stage
evaluator  SpotEvaluator: spot_single's smoke / train / test grids
regions    multi-region traces (nine V100 zones, 195 s ticks, 60 h traces)
multi      MultiRegionEvaluator: spot_multi's grids over region sets of 2..9
"""

from evaluators.spot.simulator import NONE, ON_DEMAND, SPOT, JobSpec, Observation, Outcome, simulate

__all__ = ["NONE", "SPOT", "ON_DEMAND", "JobSpec", "Observation", "Outcome", "simulate"]
