"""The review workspace on the web: a FastAPI app served by uvicorn, over the result tables (reports), the
recordings folder and the workspace database (logins, roles, decisions, appeals, follow-up cases, audit).

Nothing imports it but the command line (`callqa serve`)."""
