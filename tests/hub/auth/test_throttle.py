"""Login throttling per address and per username, trusted networks, IPv6 and bounded memory."""

from __future__ import annotations

import ipaddress
import logging

import pytest

from hub.auth.throttle import MAX_ENTRIES, LoginThrottle, address_key
from hub.clock import ManualClock


def fail(throttle: LoginThrottle, times: int, address: str, username: str = "ana") -> None:
    for _ in range(times):
        throttle.failure(address, username)


async def test_address_locks_after_five_failures_and_doubles_up_to_an_hour(clock: ManualClock) -> None:
    throttle = LoginThrottle(clock)
    expected = [300, 600, 1200, 2400, 3600, 3600]
    for n, lockout in enumerate(expected):
        # A different username each round, so the per-user rule never adds its own lock.
        fail(throttle, 4, "203.0.113.7", f"user{n}")
        assert throttle.check("203.0.113.7", f"user{n}") is None
        throttle.failure("203.0.113.7", f"user{n}")
        assert throttle.check("203.0.113.7", "anyone") == lockout
        assert throttle.check("203.0.113.8", "anyone") is None  # only that address
        await clock.advance(lockout - 1)
        assert throttle.check("203.0.113.7", "anyone") == 1
        await clock.advance(1)
        assert throttle.check("203.0.113.7", "anyone") is None


async def test_failures_outside_the_window_do_not_count(clock: ManualClock) -> None:
    throttle = LoginThrottle(clock)
    fail(throttle, 4, "203.0.113.7", "a1")
    await clock.advance(300)
    fail(throttle, 4, "203.0.113.7", "a2")
    assert throttle.check("203.0.113.7", "x") is None
    throttle.failure("203.0.113.7", "a3")
    assert throttle.check("203.0.113.7", "x") == 300


async def test_doubling_is_forgotten_after_a_quiet_hour(clock: ManualClock) -> None:
    throttle = LoginThrottle(clock)
    fail(throttle, 5, "203.0.113.7", "a1")
    await clock.advance(300 + 3600)
    fail(throttle, 5, "203.0.113.7", "a2")
    assert throttle.check("203.0.113.7", "x") == 300


async def test_failures_during_a_lockout_neither_count_nor_extend_it(clock: ManualClock) -> None:
    throttle = LoginThrottle(clock)
    fail(throttle, 5, "203.0.113.7", "a1")
    await clock.advance(100)
    fail(throttle, 5, "203.0.113.7", "a2")  # requests that had passed the check before the lock began
    assert throttle.check("203.0.113.7", "x") == 200


async def test_user_locks_after_ten_failures_from_many_addresses(clock: ManualClock) -> None:
    throttle = LoginThrottle(clock, [ipaddress.ip_network("192.168.1.0/24")])
    for lockout in (900, 1800, 3600, 3600):
        for n in range(10):
            assert throttle.check(f"198.51.100.{n}", "ana") is None
            throttle.failure(f"198.51.100.{n}", "Ana")  # usernames count case-insensitively
        # From every address, the trusted ones included; other users are not affected.
        assert throttle.check("198.51.100.200", "ana") == lockout
        assert throttle.check("192.168.1.5", "ANA") == lockout
        assert throttle.check("198.51.100.200", "bob") is None
        await clock.advance(lockout)
        assert throttle.check("198.51.100.200", "ana") is None


async def test_trusted_networks_skip_only_the_address_rule(clock: ManualClock) -> None:
    throttle = LoginThrottle(clock, [ipaddress.ip_network("192.168.1.0/24"), "fd00::/8"])
    for n in range(30):
        throttle.failure("192.168.1.5", f"user{n}")
        throttle.failure("fd12:3456::1", f"user{n}")
    assert throttle.check("192.168.1.5", "someone") is None
    assert throttle.check("fd12:3456::1", "someone") is None
    assert throttle.tracked[0] == 0  # trusted addresses are not even remembered
    fail(throttle, 10, "192.168.1.5", "ana")
    assert throttle.check("192.168.1.5", "ana") == 900
    assert throttle.trusted("::ffff:192.168.1.9")
    assert not throttle.trusted("192.168.2.1")
    assert not throttle.trusted("not an address")


async def test_success_resets_the_address_counter_but_not_the_user_counter(clock: ManualClock) -> None:
    throttle = LoginThrottle(clock)
    fail(throttle, 4, "203.0.113.7", "ana")
    throttle.success("203.0.113.7", "ana")
    fail(throttle, 4, "203.0.113.7", "ana")
    assert throttle.check("203.0.113.7", "bob") is None
    throttle.failure("203.0.113.7", "ana")
    assert throttle.check("203.0.113.7", "bob") == 300
    # Nine failures for ana so far: one more from anywhere locks the username.
    throttle.failure("198.51.100.1", "ana")
    assert throttle.check("198.51.100.2", "ana") == 900


async def test_ipv6_is_counted_per_64_and_mapped_ipv4_as_ipv4(clock: ManualClock) -> None:
    throttle = LoginThrottle(clock)
    for n in range(5):
        throttle.failure(f"2001:db8:1:2::{n + 1:x}", f"user{n}")
    assert throttle.check("2001:db8:1:2:ffff::1", "x") == 300  # same /64, another host part
    assert throttle.check("2001:db8:1:3::1", "x") is None
    fail(throttle, 5, "::ffff:203.0.113.9", "u")
    assert throttle.check("203.0.113.9", "x") == 300
    assert address_key("2001:db8:1:2::1")[0] == "2001:db8:1:2::/64"
    assert address_key("fe80::1%eth0")[0] == "fe80::/64"


async def test_text_that_is_not_an_address_shares_one_key(clock: ManualClock) -> None:
    throttle = LoginThrottle(clock)
    for n, address in enumerate(["", "unknown", "999.1.1.1", "a" * 10_000, "/run/hub.sock"]):
        throttle.failure(address, f"user{n}")
    assert throttle.check("still not an address", "x") == 300
    assert throttle.tracked[0] == 1


async def test_memory_is_bounded_by_the_cap(clock: ManualClock) -> None:
    throttle = LoginThrottle(clock)
    for n in range(MAX_ENTRIES + 500):
        throttle.failure(str(ipaddress.IPv4Address(0x0A000000 + n)), f"user{n}")
    assert throttle.tracked == (MAX_ENTRIES, MAX_ENTRIES)
    # The least recently failed went first; the newest are still counted.
    fail(throttle, 4, str(ipaddress.IPv4Address(0x0A000000 + MAX_ENTRIES + 499)), "z")
    assert throttle.check(str(ipaddress.IPv4Address(0x0A000000 + MAX_ENTRIES + 499)), "x") == 300


async def test_entries_are_forgotten_once_window_and_lockout_pass(clock: ManualClock) -> None:
    throttle = LoginThrottle(clock, max_entries=100)
    for n in range(50):
        throttle.failure(f"10.0.0.{n}", f"user{n}")
    await clock.advance(901)
    throttle.failure("10.0.1.1", "late")
    assert throttle.tracked == (1, 1)
    fail(throttle, 4, "10.0.1.2", "locked")
    throttle.failure("10.0.1.2", "locked")
    await clock.advance(301)
    throttle.failure("10.0.1.3", "other")
    # The lockout has passed but its doubling is remembered for an hour after it.
    assert throttle.tracked[0] == 2
    await clock.advance(3600)
    throttle.failure("10.0.1.4", "other2")
    assert throttle.tracked[0] == 1


async def test_a_lockout_is_logged_once(clock: ManualClock, caplog: pytest.LogCaptureFixture) -> None:
    throttle = LoginThrottle(clock)
    with caplog.at_level(logging.WARNING, logger="hub.auth.throttle"):
        fail(throttle, 8, "203.0.113.7", "a\nfake log line")
    messages = [r.getMessage() for r in caplog.records]
    assert messages == ["Login locked for address 203.0.113.7 for 300 s after 5 failed logins"]
    with caplog.at_level(logging.WARNING, logger="hub.auth.throttle"):
        fail(throttle, 2, "198.51.100.1", "a\nfake log line")
    assert caplog.records[-1].getMessage() == "Login locked for user a?fake log line for 900 s after 10 failed logins"
