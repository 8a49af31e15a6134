"""evolve: LLM-driven evolution of systems policies, evaluated in sandboxes, stored in SQLite."""

__version__ = "0.1.0"
