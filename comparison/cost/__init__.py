"""Cost: usage of each resource under the workload, priced."""
