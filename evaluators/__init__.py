"""Trusted verifier code: simulators, workload generators, validation and scoring.

Everything here runs on the trusted side, in a worker process that never holds candidate code;
the candidate is reached only through evaluators.candidate.Candidate. Only the helper views
listed in sandboxes.candidate_side (and what they import) are also copied into the sandbox,
so those must import nothing else from here. Nothing here imports the framework (`evolve`).
"""
