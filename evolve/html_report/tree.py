"""The lineage tree, laid out for a chart: x is the iteration, y a lane; large runs are pruned.

Layout: a depth-first walk gives every leaf its own lane and each parent its first child's lane,
with the child on the winner's path first, so the winner's lineage is one straight line on lane 0
and every branch hangs below the point where it split off.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from evolve.html_report.values import LineageTree, TreeNode
from evolve.store.records import CandidateRecord

MAX_NODES = 1500


def lineage_tree(
    candidates: Sequence[CandidateRecord], best_path: Sequence[int], maximize: bool, limit: int = MAX_NODES
) -> LineageTree:
    by_id = {c.id: c for c in candidates if c.id is not None}
    keep, note = _kept(by_id, best_path, maximize, limit)
    lanes = _lanes(by_id, keep, set(best_path))
    on_path = set(best_path)
    nodes = tuple(
        TreeNode(cid, by_id[cid].parent_id, by_id[cid].iteration, lanes[cid], by_id[cid].status, by_id[cid].score, cid in on_path)
        for cid in sorted(keep, key=lambda i: by_id[i].iteration)
    )
    return LineageTree(nodes=nodes, total=len(by_id), note=note)


def _kept(by_id: Mapping[int, CandidateRecord], best_path: Sequence[int], maximize: bool, limit: int) -> tuple[set[int], str]:
    """All candidates when they fit; else the winner's path plus the ancestries of the best ones."""
    if len(by_id) <= limit:
        return set(by_id), ""
    keep = set(best_path)
    sign = 1.0 if maximize else -1.0
    ranked = sorted(
        (c for c in by_id.values() if c.status == "valid" and c.score is not None),
        key=lambda c: (-sign * c.score, c.iteration),
    )
    top = 0
    for c in ranked:
        missing = [a for a in _ancestors(c.id, by_id) if a not in keep]
        if len(keep) + len(missing) > limit:
            break
        keep.update(missing)
        top += 1
    note = (
        f"{len(keep):,} of {len(by_id):,} candidates drawn: the winner's lineage and the ancestries of the "
        f"{top:,} best-scoring candidates. Every candidate is in the table below."
    )
    return keep, note


def _ancestors(cid: int | None, by_id: Mapping[int, CandidateRecord]) -> list[int]:
    out = []
    while cid is not None and cid in by_id:
        out.append(cid)
        cid = by_id[cid].parent_id
    return out


def _lanes(by_id: Mapping[int, CandidateRecord], keep: set[int], on_path: set[int]) -> dict[int, float]:
    children: dict[int | None, list[int]] = {}
    for cid in keep:
        parent = by_id[cid].parent_id
        children.setdefault(parent if parent in keep else None, []).append(cid)
    for kids in children.values():
        kids.sort(key=lambda k: (k not in on_path, by_id[k].iteration))
    lanes: dict[int, float] = {}
    next_lane = 0
    stack = [(root, False) for root in reversed(children.get(None, []))]
    while stack:  # iterative post-order: lineages can be thousands deep
        cid, expanded = stack.pop()
        kids = children.get(cid, [])
        if not kids:
            lanes[cid] = float(next_lane)
            next_lane += 1
        elif expanded:
            lanes[cid] = lanes[kids[0]]
        else:
            stack.append((cid, True))
            stack.extend((k, False) for k in reversed(kids))
    return lanes
