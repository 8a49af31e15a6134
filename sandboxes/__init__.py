"""Isolation backends and the in-sandbox runner.

`base` holds the contract (job, limits, outcome, the Sandbox protocol); each backend is a module
of its own; `runner` is what runs inside the sandbox.
"""
