"""Proposers turn a parent (plus inspirations and feedback) into a child program."""
