"""The producer's routing variables, as the runtime's producer reads them."""

QUEUE_URL_ENV = "ASYNC_TASKS_QUEUE_URL"
ENDPOINT_URL_ENV = "ASYNC_TASKS_ENDPOINT_URL"


def queue_url_env(task_name: str) -> str:
    """The per-task queue variable, e.g. ASYNC_TASKS_QUEUE_URL_GENERATE_REPORT."""
    return f"{QUEUE_URL_ENV}_{task_name.upper().replace('-', '_')}"
