"""PIN codes: scrypt hashes only, stable user numbers, throttling; and nothing secret in the logs."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from ap_helpers import ANA_PIN, PANEL, RITA_PIN, PanelSetup

from hub.auth import passwords
from hub.clock import ManualClock
from hub.storage import Database
from integrations.alarm_panel.codes import BadCode, CodeBook, CodeLocked, CodeRequired, CodeThrottle, WrongCode
from integrations.alarm_panel.store import AlarmStore

TZ = ZoneInfo("America/Mexico_City")


@pytest.fixture
async def book(tmp_path: Path, clock: ManualClock) -> AsyncIterator[CodeBook]:
    db = Database(tmp_path / "hub.db")
    await db.start()
    await AlarmStore(db).start()
    codes = CodeBook(db, time=clock.time, tz=TZ)
    await codes.load()
    yield codes
    await db.stop()


async def stored_hashes(book: CodeBook) -> dict[str, str]:
    rows = await book._db.run(lambda db: db.execute("SELECT user_id, code_hash FROM alarm_panel_users").fetchall())
    return {r[0]: r[1] for r in rows}


def test_throttle_counts_five_in_ten_minutes() -> None:
    throttle = CodeThrottle()
    for t in (0, 100, 200, 300):
        assert throttle.failure(t) is False
    assert throttle.locked(300) is False
    assert throttle.failure(400) is True
    assert (throttle.locked(699), throttle.locked(700)) == (True, False)
    spread = CodeThrottle()
    assert not any(spread.failure(t * 200.0) for t in range(20))  # one every 200 s never makes 5 in 600 s
    cleared = CodeThrottle()
    for t in range(4):
        cleared.failure(t)
    cleared.success()
    assert cleared.failure(5) is False


async def test_codes_are_stored_as_scrypt_hashes_only(book: CodeBook) -> None:
    assert await book.set_code("ana", "2468", current_code=None, need_current=True) == 1
    assert await book.set_code("rita", "13579", current_code=None, need_current=True) == 2
    hashes = await stored_hashes(book)
    assert set(hashes) == {"ana", "rita"}
    for user_id, pin in (("ana", "2468"), ("rita", "13579")):
        assert hashes[user_id] != pin and pin not in hashes[user_id] and hashes[user_id].startswith("scrypt$")
        assert passwords.verify_password(pin, hashes[user_id])
    assert await book.identify("13579") == ("rita", 2)
    await book.load()  # a restart keeps codes and numbers
    assert await book.identify("2468") == ("ana", 1) and await book.user_number("rita") == 2
    assert await book.user_number("luis") == 3


async def test_code_format_and_changing_a_code(book: CodeBook) -> None:
    for bad in ("123", "123456789", "12a4", " 1234", ""):
        with pytest.raises(BadCode, match="4 to 8 digits"):
            await book.set_code("ana", bad, current_code=None, need_current=True)
    await book.set_code("ana", "2468", current_code=None, need_current=True)
    with pytest.raises(CodeRequired):
        await book.set_code("ana", "1357", current_code=None, need_current=True)
    with pytest.raises(WrongCode):
        await book.set_code("ana", "1357", current_code="0000", need_current=True)
    await book.set_code("ana", "1357", current_code="2468", need_current=True)
    with pytest.raises(WrongCode):
        await book.identify("2468")
    assert await book.identify("1357") == ("ana", 1)
    await book.set_code("ana", "8642", current_code=None, need_current=False)  # an administrator's reset
    assert await book.identify("8642") == ("ana", 1)


async def test_a_shared_pin_names_the_caller_else_the_first_user(book: CodeBook) -> None:
    await book.set_code("ana", "2468", current_code=None, need_current=True)
    await book.set_code("rita", "2468", current_code=None, need_current=True)
    assert await book.identify("2468", caller="rita") == ("rita", 2)
    assert await book.identify("2468", caller="kiosk") == ("ana", 1)


async def test_lockout_says_until_when_and_ends(book: CodeBook, clock: ManualClock) -> None:
    await book.set_code("ana", "2468", current_code=None, need_current=True)
    for _ in range(4):
        with pytest.raises(WrongCode, match="^wrong code$"):
            await book.identify("1111")
    with pytest.raises(WrongCode, match="^wrong code; code entry locked until 06:05$"):
        await book.identify("x")  # not even a number: still a wrong code
    with pytest.raises(CodeLocked, match="^code entry locked until 06:05$") as err:
        await book.identify("2468")
    assert err.value.until == clock.time() + 300
    await clock.advance(300)
    assert await book.identify("2468") == ("ana", 1)


async def test_pins_and_hashes_never_reach_the_logs(ap: PanelSetup, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    await ap.start()
    await ap.call("arm_away", {"entity_id": PANEL, "code": ANA_PIN}, user=ap.ana.id)
    for wrong in ("9081", "7162", "5243", "3324", "1405"):
        with pytest.raises(Exception, match="wrong code") as err:
            await ap.call("disarm", {"code": wrong}, user=ap.rita.id)
        assert wrong not in str(err.value)
    await ap.advance(301)
    await ap.call("disarm", {"code": RITA_PIN}, user=ap.rita.id)
    await ap.call("set_code", {"code": "97531", "current_code": RITA_PIN}, user=ap.rita.id)
    hashes = await stored_hashes(ap.panel.codes)
    assert len(hashes) == 2 and ANA_PIN not in hashes.values() and "97531" not in hashes.values()
    assert "Alarm code set for user number" in caplog.text and "locked" in caplog.text  # the log did run
    for secret in (ANA_PIN, RITA_PIN, "97531", "9081", "1405", *hashes.values()):
        assert secret not in caplog.text
    # Nor in the database: not in the history of events (service data is not recorded), nowhere.
    await ap.hub.recorder.flush()
    dump = "\n".join(await ap.hub.db.run(lambda db: list(db.conn.iterdump())))
    assert "alarm_panel_armed" in dump and "97531" not in dump and RITA_PIN not in dump
