"""The hub's single SQLite database: one writer thread, versioned migrations."""

from .database import (
    Database,
    DatabaseCorrupt,
    DatabaseError,
    DatabaseInUse,
    DatabaseLocked,
    Migration,
)

__all__ = ["Database", "DatabaseCorrupt", "DatabaseError", "DatabaseInUse", "DatabaseLocked", "Migration"]
