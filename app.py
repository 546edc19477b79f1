#!/usr/bin/env python3
"""CDK entry point: `cdk synth -c topology=<name>` (see README.md)."""

import sys

from stacks.settings import SettingsError
from stacks.topologies import UnknownTopologyError, add_topologies, new_app


def main() -> None:
    app = new_app()
    try:
        add_topologies(app)
    except (UnknownTopologyError, SettingsError) as error:
        sys.exit(f"error: {error}")
    app.synth()


if __name__ == "__main__":
    main()
