"""eplb, published-compatible mode: the leaderboard's workload file, rules, balancedness and score."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from boundary import source_of, stage_result

from evaluators.eplb.balance import layer_balancedness
from evaluators.eplb.evaluator import EplbEvaluator, leaderboard_score
from evaluators.eplb.layout import Layout
from evaluators.eplb.published import WorkloadError, balancedness, check_published, load_windows
from evaluators.eplb.validation import InvalidPlacement

DEEPSEEK = Path(__file__).resolve().parent.parent / "problems" / "eplb" / "baselines" / "deepseek.py"
LAYERS, EXPERTS = 2, 256


def write_history(path: Path, steps: int, seed: int = 0, cold: int | None = None) -> np.ndarray:
    """An expert-load.json of `steps` entries; expert `cold` gets no load after the first 100 steps."""
    rng = np.random.default_rng(seed)
    loads = rng.poisson(rng.gamma(0.5, 20.0, size=(LAYERS, EXPERTS)), size=(steps, LAYERS, EXPERTS))
    if cold is not None:
        loads[100:, :, cold] = 0
    path.write_text(json.dumps({"load_history": [{"logical_expert_load": step.tolist()} for step in loads]}))
    return loads


def test_every_hundred_steps_are_summed_into_a_window(tmp_path):
    loads = write_history(tmp_path / "load.json", 250)
    windows = load_windows(tmp_path / "load.json")
    assert windows.shape == (3, LAYERS, EXPERTS) and windows.dtype.kind == "i"
    assert (windows[1] == loads[100:200].sum(axis=0)).all() and (windows[2] == loads[200:].sum(axis=0)).all()
    (tmp_path / "short.json").write_text(json.dumps({"load_history": [{"logical_expert_load": [[1] * EXPERTS]}]}))
    with pytest.raises(WorkloadError, match="need more than 100"):
        load_windows(tmp_path / "short.json")
    with pytest.raises(WorkloadError, match="not a published expert-load.json"):
        EplbEvaluator(model="published", workload=str(tmp_path / "missing.json"))


def naive(load: np.ndarray, zero: int | None = None):
    """Slot p holds expert p mod 256 (the first 32 twice); `zero` gives its slots to expert 0."""
    row = np.arange(288) % EXPERTS
    if zero is not None:
        row[row == zero] = 0
    phy2log = np.tile(row, (load.shape[0], 1))
    logcnt = np.stack([np.bincount(r, minlength=EXPERTS) for r in phy2log])
    log2phy = -np.ones((load.shape[0], EXPERTS, int(logcnt.max())), dtype=np.int64)
    for layer in range(load.shape[0]):
        for slot, expert in enumerate(phy2log[layer].tolist()):
            log2phy[layer, expert, (log2phy[layer, expert] >= 0).sum()] = slot
    return phy2log, log2phy, logcnt


def test_only_an_expert_loaded_in_the_next_window_needs_a_replica():
    lay = Layout(num_layers=LAYERS)
    next_load = np.ones((LAYERS, EXPERTS))
    next_load[:, 200] = 0
    log2phy, logcnt = check_published(naive(next_load, zero=200), next_load, lay)
    assert (logcnt[:, 200] == 0).all()
    with pytest.raises(InvalidPlacement, match="Unhandled load: 2 experts have load but 0 replicas"):
        check_published(naive(next_load, zero=199), next_load, lay)


def test_log2phy_must_agree_with_phy2log():
    """The original scores log2phy alone; a placement no GPU could hold (experts sharing a slot)
    is invalid here, a consistent one is not."""
    lay = Layout(num_layers=LAYERS)
    load = np.ones((LAYERS, EXPERTS))
    phy2log, log2phy, logcnt = naive(load)
    check_published((phy2log, log2phy, logcnt), load, lay)
    crowded = log2phy.copy()
    crowded[:, 1, 0] = log2phy[:, 0, 0]  # expert 1 claims expert 0's slot
    with pytest.raises(InvalidPlacement, match="which phy2log gives to expert 0"):
        check_published((phy2log, crowded, logcnt), load, lay)
    twice = log2phy.copy()
    twice[:, 0, 1] = log2phy[:, 0, 0]  # expert 0 lists its first slot twice
    with pytest.raises(InvalidPlacement, match="one slot twice"):
        check_published((phy2log, twice, logcnt), load, lay)


def test_balancedness_is_a_ratio_of_sums_over_layers():
    lay = Layout(num_layers=LAYERS)
    load = np.ones((LAYERS, EXPERTS))
    load[1, 0] = 1000.0  # layer 1: one very hot expert on one GPU
    phy2log, log2phy, logcnt = naive(load)
    gpu = [np.zeros(32), np.zeros(32)]
    for layer in range(LAYERS):
        for slot in range(288):
            expert = phy2log[layer, slot]
            gpu[layer][slot // 9] += load[layer, expert] / logcnt[layer, expert]
    expected = sum(g.mean() for g in gpu) / sum(g.max() for g in gpu)
    assert balancedness(load, log2phy, logcnt, lay) == pytest.approx(expected)
    assert expected != pytest.approx(layer_balancedness(load, phy2log, logcnt, lay).mean())  # ours: a mean of ratios


def test_the_published_score_ranks_on_balance_and_runtime_and_accepts_a_cold_expert_without_replicas(tmp_path):
    write_history(tmp_path / "load.json", 300, cold=7)
    evaluator = EplbEvaluator(model="published", workload=str(tmp_path / "load.json"))
    result = stage_result(evaluator, "train", DEEPSEEK.read_text())
    m = result.metrics
    assert result.valid and m["calls"] == 2.0 and 0.5 < m["balancedness"] <= 1.0
    assert m["score"] == pytest.approx(leaderboard_score(m["balancedness"], m["rebalance_ms"] / 1000.0))
    no_cold = source_of(naive, header="import numpy as np\n\nEXPERTS = 256\n") + (
        "\n\ndef rebalance_experts(weight, *args):\n    return naive(np.asarray(weight), zero=7)\n"
    )
    assert stage_result(evaluator, "train", no_cold).valid  # expert 7 is cold in every next window
    rejected = stage_result(EplbEvaluator(smoke_traces=1), "smoke", no_cold)
    assert not rejected.valid and "0 replicas" in rejected.reason  # ours: every expert needs one
    strict = stage_result(EplbEvaluator(train_traces=1, windows=2), "smoke", DEEPSEEK.read_text())
    assert strict.valid and "leaderboard_score" in strict.metrics and strict.metrics["score"] != m["score"]
