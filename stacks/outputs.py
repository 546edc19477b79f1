"""Names shared between stack outputs and the runtime's producer configuration."""

QUEUE_URL_ENV = "ASYNC_TASKS_QUEUE_URL"


def env_var_for_queue(task_name: str) -> str:
    """The producer's per-task queue variable, e.g. ASYNC_TASKS_QUEUE_URL_GENERATE_REPORT."""
    return f"{QUEUE_URL_ENV}_{task_name.upper().replace('-', '_')}"


def pascal_case(task_name: str) -> str:
    """generate-report -> GenerateReport, for construct and output ids."""
    return "".join(part.capitalize() for part in task_name.split("-"))
