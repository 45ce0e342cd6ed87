"""The review workspace's database: people, roles and sessions; decisions on findings; appeals; follow-up
cases (问题件); review assignments; the audit log. SQLAlchemy over SQLite (default) or PostgreSQL.

It sits below the reports (the scorecards read reviewed scores and case figures from it) and below the web
app that people use to change it; it reads no result files itself: callers hand it the rows it needs.
"""
