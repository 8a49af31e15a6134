"""Conflict-aware transaction ordering (ADRS case study).

cost         the exact cost models: ADRS's per-step locks (default) and strict two-phase locking
adrs_format  the published workload format ("r-5 w-3 *"), read and written
workloads    synthetic workloads shaped like ADRS's, from fixed seeds; the published ones from a path
view         what the candidate sees (workload copy + incremental Schedule helper)
validation   strict checks on the returned permutation
evaluator    TxnEvaluator: smoke / train / test stages and the normalised score
"""
