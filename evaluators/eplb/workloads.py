"""Synthetic expert-load traces from fixed seeds (the production traces are not available).

Per layer, expert popularity is Zipf-like: the expert of popularity rank r gets log-weight
-s * log(r) with a per-layer exponent s ~ U(0.4, 0.8) over a per-layer random ranking. From one
window to the next the log-weights drift as an AR(1) process (correlation RHO, stationary
spread SIGMA) and, with probability SWAP per layer and window, one of the HOT_RANKS hottest
experts trades places with a random colder one (a hot expert moves). Each window's load is a
multinomial draw of TOKENS routed tokens per layer, so unpopular experts may see zero load.
Consecutive windows are strongly correlated but not equal: a placement tuned to window i is
scored on window i+1.
"""

from __future__ import annotations

import numpy as np

from evaluators.eplb.layout import Layout

RHO = 0.8
SIGMA = 0.4
SWAP = 0.15
HOT_RANKS = 8
TOKENS = 65_536 * 8  # routed tokens per layer per window (top-8 routing of 64k tokens)
STAGE_CODES = {"smoke": 0, "train": 1, "test": 2}


def make_trace(seed: int, stage: str, index: int, layout: Layout, windows: int) -> np.ndarray:
    """Loads as a float array [windows, layers, experts] (token counts)."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, STAGE_CODES[stage], index]))
    layers, experts = layout.num_layers, layout.num_logical
    exponent = rng.uniform(0.4, 0.8, size=(layers, 1))
    ranks = np.argsort(rng.random((layers, experts)), axis=1) + 1  # rank of each expert, 1..E
    base = -exponent * np.log(ranks)
    deviation = rng.normal(0.0, SIGMA, size=(layers, experts))
    out = np.empty((windows, layers, experts))
    for w in range(windows):
        if w:
            deviation = RHO * deviation + np.sqrt(1 - RHO**2) * rng.normal(0.0, SIGMA, size=(layers, experts))
            for layer in np.flatnonzero(rng.random(layers) < SWAP).tolist():
                hot = int(np.argsort(base[layer])[-1 - rng.integers(HOT_RANKS)])
                cold = int(rng.integers(experts))
                base[layer, [hot, cold]] = base[layer, [cold, hot]]
        logits = base + deviation
        p = np.exp(logits - logits.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        out[w] = rng.multinomial(TOKENS, p)
    return out
