"""Persistence: SQLAlchemy models, named migrations and the Store facade (the only writer)."""

from evolve.store.records import CandidateRecord, EvaluationRecord, ProposalRecord, RunInfo
from evolve.store.store import Store, default_db_url

__all__ = ["CandidateRecord", "EvaluationRecord", "ProposalRecord", "RunInfo", "Store", "default_db_url"]
