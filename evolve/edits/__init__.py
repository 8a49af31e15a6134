"""From an LLM answer to a child program: parse the answer, apply it to the parent's EVOLVE-BLOCKs.

Accepts the formats models really write (SEARCH/REPLACE edits, full or partial rewrites, with
their usual slips) when the result is unambiguous, and rejects everything else with a reason
and a message that shows the first differing line with its whitespace made visible.
"""
