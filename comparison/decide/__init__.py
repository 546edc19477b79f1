"""Decide: verdicts, the recommendation, the sweep and what would change it."""
