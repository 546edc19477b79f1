"""The runtime's structured JSON logger (Powertools Logger, one line per event).

Keys are passed per call with ``extra=``; nothing is appended to the logger, so no
key leaks between threads or warm Lambda invocations.
"""

from __future__ import annotations

import os

from aws_lambda_powertools import Logger

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", "async-tasks"))
