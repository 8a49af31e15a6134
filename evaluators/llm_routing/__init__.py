"""LLM request routing across continuous-batching serving instances (Llumnix, BurstGPT).

workload   bursty arrivals and heavy-tailed lengths from fixed seeds; the scenario families
simulator  discrete-event simulation of the instances (exact model documented there)
reference  the evaluator's own round-robin router (the score's 0 anchor)
scoring    metrics, the normalised score and feedback
evaluator  RoutingEvaluator: the smoke / train / test stages
"""
