"""Candidate-side shims that let published programs run behind our interfaces.

The ADRS leaderboard's programs were written against their original evaluators' objects (the
Can't Be Late simulator's Strategy and env, the transaction simulator's Workload, torch). These
modules rebuild just those interfaces in the candidate's process from the plain data the
evaluator sends; the model itself (progress, safety net, cost) stays on the trusted side. They
are listed in sandboxes.candidate_side and import no evaluator, workload generator or scorer.
Programs reach them through a wrapper file that benchmarks/adrs_fidelity.py writes at run time
from the user's leaderboard checkout (never committed).
"""
