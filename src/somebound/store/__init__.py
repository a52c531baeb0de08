"""Persistence: SQLAlchemy Core tables, repositories and Alembic migrations.

SQLite (embedded default) and PostgreSQL run the same code; a URL chooses.
"""
