"""Sizing: each option sized for the workload before the decision compares them."""
