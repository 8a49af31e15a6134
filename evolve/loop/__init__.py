"""The evolution loop, in the order an iteration goes through it.

plan (what one iteration is decided from), controller (the evolution: plans from the population,
commits into it), requests (a plan as the proposer sees it), children (a proposal checked, deduped
and scored into a candidate), orders (when iterations are planned and in which order they commit),
scheduler (the in-flight work: proposer calls and evaluations as two pools, halts, drops, paid
calls), stopping (stop requests and the time budget), resume (rebuilding the population from the
store).
"""
