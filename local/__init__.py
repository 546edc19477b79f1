"""Deploy a topology into a local AWS emulator (a moto server) and run it end to end.

``scripts/local-deploy <topology>`` is the entry point; docs/local.md explains what the
emulator creates, what it skips and how the skipped resources are still checked.
"""
