"""Persistence: SQLAlchemy 2 tables, mappers, repositories, Alembic migrations."""
