"""When each scenario starts on the stage's one clock, so that no window shows another's future.

All scenarios of a stage advance in lockstep in one candidate process. Windows cut from one
recording at different offsets overlap: played from the same tick they would show one
scenario's later ticks while another is still before them. Such windows share a clock instead:
each starts at its own offset on the recording's timeline, so at every step every scenario sees
the same moment of the recording. Windows that do not overlap (directly or through others)
form separate groups, and every group starts at step 0, so a stage takes as many steps as its
longest group spans, not the whole recording.
"""

from __future__ import annotations

from typing import Sequence


def clock_offsets(intervals: Sequence[tuple[int, int] | None]) -> list[int]:
    """The step at which each window starts. `intervals[i]` is (start, end) of window i on the
    shared timeline, in ticks, end exclusive; None for a window with no known position (an
    independent trace, which starts at step 0)."""
    placed = sorted((iv[0], iv[1], i) for i, iv in enumerate(intervals) if iv is not None)
    offsets = [0] * len(intervals)
    group_start, group_end = None, None
    for start, end, i in placed:
        if group_end is None or start >= group_end:
            group_start, group_end = start, end
        else:
            group_end = max(group_end, end)
        offsets[i] = start - group_start
    return offsets
