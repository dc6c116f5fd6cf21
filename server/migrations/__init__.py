"""Alembic migrations of the platform database (run by `server.migrate`; shipped in the package)."""
