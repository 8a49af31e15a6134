"""Trusted verifier code: simulators, workload generators, validation and scoring.

Everything here runs inside the sandbox next to the candidate, so it must not import the
framework (`evolve`) and must not depend on anything the candidate could tamper with.
"""
