"""Mixture-of-Experts expert placement (DeepSeek EPLB; ADRS case study).

layout      the cluster shape (288 slots on 32 GPUs in 4 nodes, 256 experts in 8 groups)
workloads   synthetic per-window expert loads (Zipf-like, drifting hot experts, correlated windows)
validation  strict checks on a candidate's (phy2log, log2phy, logcnt)
balance     balancedness of a placement on a load matrix, and the naive reference placement
published   the leaderboard's workload file, rules, balancedness and score (published mode)
evaluator   EplbEvaluator: smoke / train / test, placement of window i scored on window i+1
"""
