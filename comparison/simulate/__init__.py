"""Simulation: enqueue-to-start latency, scaling and capacity of each consumer."""
