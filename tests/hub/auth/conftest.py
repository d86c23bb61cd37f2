"""An AuthManager on a real database file and a manual clock, with helpers to make users."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from hub.auth import ROLE_ADMIN, AuthManager, User
from hub.clock import ManualClock
from hub.storage import Database

PASSWORD = "correct horse battery"


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "hub.db"


@pytest.fixture
async def db(db_path: Path) -> AsyncIterator[Database]:
    database = Database(db_path)
    await database.start()
    yield database
    await database.stop()


@pytest.fixture
async def auth(db: Database, clock: ManualClock) -> AuthManager:
    manager = AuthManager(db, clock=clock)
    await manager.load()
    return manager


@pytest.fixture
async def admin(auth: AuthManager) -> User:
    return await auth.create_user("ana", "Ana López", PASSWORD, ROLE_ADMIN, language="es-MX")
