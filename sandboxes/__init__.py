"""Where candidates run, and the boundary between them and the trusted evaluator.

base          the contract: job, limits, outcome, the Executor protocol the loop holds
pool, worker  the controller's pool of trusted worker processes; each scores jobs with the evaluator
ray_pool      the same trusted workers as Ray actors, on the nodes of a Ray cluster
job           one job on the trusted side: the candidate in a box, the evaluator's stages
box           the host's side of a box (a warm sandbox running pool_server, or a process factory)
process, bwrap, container   the backends; choose picks one; image builds docker's
candidate_server, pool_server, scratch, wire   what runs inside a sandbox (candidate_side lists it)
"""
