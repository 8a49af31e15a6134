"""Online VM placement on a fixed pool of machines (AlphaEvolve's Borg result, FunSearch's bin packing).

workload   VM arrivals/departures from fixed seeds: catalogue shapes, daily cycle, heavy-tailed lifetimes
simulator  the placement loop driven by a priority function (exact model documented there)
scoring    machine-hours against the fluid bound and the naive reference; stranded resources; feedback
evaluator  PackingEvaluator: the smoke / train / test stages
"""
