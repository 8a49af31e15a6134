"""Conflict-aware transaction ordering (ADRS case study).

cost        the exact conflict cost model (start times, locks, makespan)
workloads   synthetic skewed workloads from fixed seeds
view        what the candidate sees (workload copy + incremental Schedule helper)
validation  strict checks on the returned permutation
evaluator   TxnEvaluator: smoke / train / test stages and the normalised score
"""
