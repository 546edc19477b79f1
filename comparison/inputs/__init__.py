"""Inputs: the synthesized templates, the workload file, prices and assumptions."""
