"""Full candidate records (code, evaluations) read from the store when a prompt needs them.

The population keeps only lineage entries; parents and inspirations come from a small set (the
grids and archives), so a bounded cache of the most recently used records answers most reads.
"""

from __future__ import annotations

from collections import OrderedDict

from evolve.store import Store
from evolve.store.records import CandidateRecord

CACHED = 256


class RecordsCache:
    def __init__(self, store: Store, size: int = CACHED):
        self._store, self._size = store, size
        self._records: OrderedDict[int, CandidateRecord] = OrderedDict()

    def get(self, candidate_id: int) -> CandidateRecord:
        record = self._records.get(candidate_id)
        if record is None:
            record = self._records[candidate_id] = self._store.candidate(candidate_id)
            if len(self._records) > self._size:
                self._records.popitem(last=False)
        else:
            self._records.move_to_end(candidate_id)
        return record
