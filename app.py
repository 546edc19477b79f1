#!/usr/bin/env python3
"""CDK entry point: `cdk synth -c topology=<name>` (see README.md)."""

import sys

from aws_cdk import App

from stacks.settings import SettingsError
from stacks.topologies import UnknownTopologyError, add_topologies


def main() -> None:
    app = App()
    try:
        add_topologies(app)
    except (UnknownTopologyError, SettingsError) as error:
        sys.exit(f"error: {error}")
    app.synth()


if __name__ == "__main__":
    main()
