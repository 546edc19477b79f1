"""The catalogue's task handlers, one subpackage per family.

- ``uploads``: property-bulk-upload;
- ``scans``: virus-scan-result;
- ``reports``: generate-report;
- ``email``: send-bulk-email and email-feedback.

Each handler module has ``handle(payload, context)`` and ``validate_payload(payload)``,
and the catalogue names it (``TaskType.handler``). A web-app team replaces one by
registering the same task name with ``@runtime.register`` in a module it names in
``ASYNC_TASKS_MODULES``. Code shared by the families: ``runtime.tasks.data``.
"""
