"""generate-report: the report period and the figures read from the task table."""
