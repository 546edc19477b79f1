"""The two WSGI apps the container image serves with gunicorn (see docs/web.md).

* ``runtime.web.webapp:app``: the stand-in web app. ``POST /tasks/<task>`` enqueues
  through :func:`runtime.enqueue`, routed by the environment, in every topology.
* ``runtime.web.endpoints:app``: the private endpoints (``private-endpoints``).
  ``POST /tasks/<task>`` takes an envelope, answers 202 and runs the task in-process.

Both answer ``GET /health`` without touching AWS. Flask is needed here only: nothing
else in ``runtime`` imports this package, so the Lambda zips do not need Flask.
"""

from __future__ import annotations

__all__: list[str] = []
