"""`hub user add|list|remove|passwd`: manage users in a configuration directory's database.

The command opens the directory's database itself, so it refuses (with the database's own
message) while a hub runs on that directory. Passwords are read without echo, or one line from
stdin with `--password-stdin`; they are asked for between two short openings of the database,
so a person typing never holds the lock a starting hub needs.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from .auth import AuthManager, User

_T = TypeVar("_T")


class _Failed(Exception):
    """A one-line reason the command cannot go on."""


def add_parser(sub: Any, default_config_dir: Path) -> None:
    """Register `hub user ...` on the top-level sub-parsers."""
    user = sub.add_parser("user", help="add, list or remove users, or set a password")
    actions = user.add_subparsers(dest="user_command", metavar="ACTION", required=True)

    def action(name: str, help_text: str) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = actions.add_parser(name, help=help_text)
        parser.add_argument("-c", "--config", type=Path, default=default_config_dir, help="configuration directory")
        return parser

    add = action("add", help_text="add a user (the first one is an administrator)")
    add.add_argument("username")
    add.add_argument("--name", help="display name (default: the username)")
    role = add.add_mutually_exclusive_group()
    role.add_argument("--admin", dest="role", action="store_const", const="admin", help="administrator")
    role.add_argument("--resident", dest="role", action="store_const", const="resident", help="resident")
    add.add_argument("--password-stdin", action="store_true", help="read the password as one line from stdin")
    action("list", help_text="list users")
    remove = action("remove", help_text="remove a user and sign out all their sessions and tokens")
    remove.add_argument("username")
    passwd = action("passwd", help_text="set a user's password and sign out their sessions")
    passwd.add_argument("username")
    passwd.add_argument("--password-stdin", action="store_true", help="read the password as one line from stdin")


def run(args: argparse.Namespace) -> int:
    """Run one `hub user` action; returns the exit code."""
    # A person at a terminal wants the one-line result, not the INFO log of opening a database.
    if logging.getLogger().level == logging.INFO:
        logging.getLogger().setLevel(logging.WARNING)
    command = {"add": _add, "list": _list, "remove": _remove, "passwd": _passwd}[args.user_command]
    try:
        if not args.config.is_dir():
            raise _Failed(f"configuration directory {args.config} does not exist")
        command(args)
    except _Failed as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("cancelled", file=sys.stderr)
        return 1
    return 0


def _with_auth(config_dir: Path, work: Callable[[AuthManager], Awaitable[_T]]) -> _T:
    """Open the directory's database and users, run `work(auth)`, close; errors become one line."""
    from .auth import AuthError, AuthManager
    from .clock import RealClock
    from .errors import HubError
    from .runtime import DB_FILENAME
    from .storage import Database

    async def main() -> _T:
        db = Database(config_dir / DB_FILENAME)
        await db.start()
        try:
            auth = AuthManager(db, clock=RealClock())
            await auth.load()
            return await work(auth)
        finally:
            await db.stop()

    try:
        return asyncio.run(main())
    except AuthError as err:
        raise _Failed(err.message) from None
    except HubError as err:  # DatabaseInUse and friends carry a message written for people
        raise _Failed(str(err)) from None


def _read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        line = sys.stdin.readline()
        if not line:
            raise _Failed("no password on stdin")
        return line.rstrip("\r\n")  # only the line end: spaces may be part of a password
    if not sys.stdin.isatty():
        raise _Failed("no terminal to ask for the password on; pass --password-stdin")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Repeat the password: ") != first:
        raise _Failed("the passwords do not match")
    return first


def _add(args: argparse.Namespace) -> None:
    async def check(auth: AuthManager) -> str:
        if auth.get_user_by_username(args.username) is not None:
            raise _Failed(f"user {args.username.lower()} already exists")
        return str(args.role or ("resident" if auth.onboarded else "admin"))

    role = _with_auth(args.config, check)
    password = _read_password(args)

    async def add(auth: AuthManager) -> User:
        return await auth.create_user(args.username, args.name or args.username, password, role)

    user = _with_auth(args.config, add)
    print(f"added {'administrator' if user.role == 'admin' else 'resident'} {user.username}")


def _list(args: argparse.Namespace) -> None:
    async def users(auth: AuthManager) -> list[User]:
        return list(auth.users())

    found = _with_auth(args.config, users)
    if not found:
        print("no users yet; add the first administrator with: hub user add USERNAME")
        return
    width = max(len("USERNAME"), *(len(u.username) for u in found))
    print(f"{'USERNAME':<{width}}  {'ROLE':<8}  {'STATE':<8}  NAME")
    for user in found:
        state = "active" if user.active else "inactive"
        print(f"{user.username:<{width}}  {user.role:<8}  {state:<8}  {user.name}")


def _existing(auth: AuthManager, username: str) -> User:
    user = auth.get_user_by_username(username)
    if user is None:
        raise _Failed(f"no user named {username}")
    return user


def _remove(args: argparse.Namespace) -> None:
    async def remove(auth: AuthManager) -> str:
        user = _existing(auth, args.username)
        await auth.remove_user(user.id)
        return str(user.username)

    print(f"removed user {_with_auth(args.config, remove)}")


def _passwd(args: argparse.Namespace) -> None:
    async def check(auth: AuthManager) -> None:
        _existing(auth, args.username)

    _with_auth(args.config, check)
    password = _read_password(args)

    async def change(auth: AuthManager) -> str:
        user = _existing(auth, args.username)
        await auth.update_user(user.id, password=password)
        return str(user.username)

    print(f"changed the password of {_with_auth(args.config, change)}; their sessions are signed out")
