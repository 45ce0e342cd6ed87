"""Speech pipeline: Prefect flows and speech stages (see README)."""
