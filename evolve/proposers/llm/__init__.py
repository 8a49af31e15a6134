"""LLM proposers: providers, prompts, budgets, cassettes (a regular package, so the wheel carries it)."""
