"""Can't Be Late (NSDI'24): deadline-aware spot instance scheduling, one region or several.

traces           synthetic availability traces (semi-Markov, calibrated per environment to the real ones)
regions          multi-region synthetic traces (the nine published V100 zones, 195 s ticks, 60 h traces)
recorded         real traces in the published format, read from a path the user gives
timeline         the stage's clock: windows of one recording play at their own offsets
simulator        our job model and the per-tick policy loop, 1..R regions (accounting documented there)
lockstep         that model for every scenario of a stage at once
published_model  the published simulator's model (safety net, whole-tick billing, free moves)
scoring          metrics, validity and feedback for one stage (ours); published_scoring: the leaderboard's
grids, stages    a stage's scenarios, and running them under either model
evaluator        SpotEvaluator: spot_single's smoke / train / test grids
multi            MultiRegionEvaluator: spot_multi's grids over region sets of 2..9
"""

from evaluators.spot.simulator import NONE, ON_DEMAND, SPOT, JobSpec, Observation, Outcome, simulate

__all__ = ["NONE", "SPOT", "ON_DEMAND", "JobSpec", "Observation", "Outcome", "simulate"]
