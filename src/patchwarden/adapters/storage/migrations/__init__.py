"""Alembic migrations of the server database (``patchwarden server migrate``)."""
