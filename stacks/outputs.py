"""Names shared between stack outputs and the runtime's producer configuration."""

from runtime.producer import ENDPOINT_URL_ENV, QUEUE_URL_ENV, queue_url_env_for

# The producer reads these; the stacks set exactly what it reads.
__all__ = ["ENDPOINT_URL_ENV", "QUEUE_URL_ENV", "pascal_case", "queue_url_env_for"]


def pascal_case(task_name: str) -> str:
    """generate-report -> GenerateReport, for construct and output ids."""
    return "".join(part.capitalize() for part in task_name.split("-"))
