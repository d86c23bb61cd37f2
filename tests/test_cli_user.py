"""`hub user add|list|passwd|remove` as a person runs them: real processes on a real directory."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

from hub.auth import AuthManager, InvalidCredentials
from hub.clock import ManualClock
from hub.runtime import DB_FILENAME
from hub.storage import Database

HUB = [sys.executable, "-m", "hub"]


def hub_user(config: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*HUB, "user", *args, "-c", str(config)], input=stdin, capture_output=True, text=True, timeout=60,
        stdin=subprocess.DEVNULL if stdin is None else None,
    )


async def run(config: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """The command in a worker thread, so the test's loop (and an open Database) keep running."""
    return await asyncio.to_thread(hub_user, config, *args, stdin=stdin)


async def can_log_in(config: Path, username: str, password: str) -> bool:
    db = Database(config / DB_FILENAME)
    await db.start()
    try:
        auth = AuthManager(db, clock=ManualClock())
        await auth.load()
        try:
            await auth.login(username, password, address="127.0.0.1")
        except InvalidCredentials:
            return False
        return True
    finally:
        await db.stop()


async def test_add_list_passwd_remove(tmp_path: Path) -> None:
    result = await run(tmp_path, "list")
    assert result.returncode == 0
    assert result.stdout == "no users yet; add the first administrator with: hub user add USERNAME\n"

    result = await run(tmp_path, "add", "Ana", "--name", "Ana López", "--password-stdin", stdin="first password 1\n")
    assert (result.returncode, result.stdout, result.stderr) == (0, "added administrator ana\n", "")
    result = await run(tmp_path, "add", "beto", "--password-stdin", stdin="beto's password\r\n")
    assert (result.returncode, result.stdout) == (0, "added resident beto\n")
    result = await run(tmp_path, "add", "carla", "--admin", "--password-stdin", stdin="carla's password\n")
    assert (result.returncode, result.stdout) == (0, "added administrator carla\n")

    result = await run(tmp_path, "list")
    assert result.returncode == 0
    assert result.stdout.splitlines() == [
        "USERNAME  ROLE      STATE     NAME",
        "ana       admin     active    Ana López",
        "beto      resident  active    beto",
        "carla     admin     active    carla",
    ]
    assert await can_log_in(tmp_path, "beto", "beto's password")  # only the line end was stripped

    result = await run(tmp_path, "passwd", "ana", "--password-stdin", stdin="second password 2\n")
    assert (result.returncode, result.stdout) == (0, "changed the password of ana; their sessions are signed out\n")
    assert await can_log_in(tmp_path, "ana", "second password 2")
    assert not await can_log_in(tmp_path, "ana", "first password 1")

    result = await run(tmp_path, "remove", "beto")
    assert (result.returncode, result.stdout) == (0, "removed user beto\n")
    assert "beto" not in (await run(tmp_path, "list")).stdout


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (("add", "ana", "--password-stdin"), "another password\n", "error: user ana already exists"),
        (("add", "x", "--password-stdin"), "some password 1\n", "error: username must be 3-32 characters"),
        (("add", "zoe", "--password-stdin"), "short\n", "error: password must be at least 10 characters"),
        (("add", "zoe", "--password-stdin"), "", "error: no password on stdin"),
        (("add", "zoe"), None, "error: no terminal to ask for the password on; pass --password-stdin"),
        (("passwd", "nobody", "--password-stdin"), "some password 1\n", "error: no user named nobody"),
        (("remove", "nobody"), None, "error: no user named nobody"),
        (("remove", "ana"), None, "error: the last active administrator cannot be removed"),
    ],
)
async def test_refusals_are_one_line_and_exit_1(tmp_path: Path, args: tuple[str, ...], stdin: str | None,
                                                message: str) -> None:
    assert (await run(tmp_path, "add", "ana", "--password-stdin", stdin="first password 1\n")).returncode == 0
    result = await run(tmp_path, *args, stdin=stdin)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.startswith(message) and result.stderr.count("\n") == 1, result.stderr


async def test_first_user_cannot_be_a_resident(tmp_path: Path) -> None:
    result = await run(tmp_path, "add", "beto", "--resident", "--password-stdin", stdin="beto's password\n")
    assert (result.returncode, result.stderr) == (1, "error: the first user must be an administrator\n")


async def test_refused_while_a_hub_holds_the_directory(tmp_path: Path) -> None:
    db = Database(tmp_path / DB_FILENAME)
    await db.start()
    try:
        for args, stdin in ((("list",), None), (("add", "ana", "--password-stdin"), "first password 1\n")):
            result = await run(tmp_path, *args, stdin=stdin)
            assert result.returncode == 1
            assert "is in use by another hub process" in result.stderr and result.stderr.count("\n") == 1
    finally:
        await db.stop()
    assert (await run(tmp_path, "list")).returncode == 0


def test_missing_directory(tmp_path: Path) -> None:
    result = hub_user(tmp_path / "nowhere", "list")
    assert result.returncode == 1
    assert result.stderr == f"error: configuration directory {tmp_path / 'nowhere'} does not exist\n"
    assert not (tmp_path / "nowhere").exists()
