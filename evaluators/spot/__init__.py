"""Can't Be Late (NSDI'24): deadline-aware spot instance scheduling, single region.

traces     synthetic availability traces (semi-Markov, calibrated per trace type)
simulator  the job model and the per-tick policy loop (accounting documented there)
scoring    metrics, validity and feedback for one stage
evaluator  SpotEvaluator: the smoke / train / test grids
"""

from evaluators.spot.simulator import NONE, ON_DEMAND, SPOT, JobSpec, Observation, Outcome, simulate

__all__ = ["NONE", "SPOT", "ON_DEMAND", "JobSpec", "Observation", "Outcome", "simulate"]
