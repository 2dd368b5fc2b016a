"""The login throttle's leaky buckets, on a fake clock: guessing is slowed to a few tries a
minute, while the owner and the people behind the same address wait seconds, not minutes."""

from __future__ import annotations

import re

import pytest

from chatkit.domain.errors import TooManyRequests
from chatkit.domain.throttle import LoginThrottle
from chatkit.settings import Settings, SettingsError

T = 20.0  # the default retry_seconds: per address+account one try every T after a burst of 5


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def throttle(clock: Clock) -> LoginThrottle:
    return LoginThrottle(retry_seconds=T, clock=clock)


async def fail(throttle: LoginThrottle, email: str, client: str | None, times: int = 1) -> None:
    """``times`` wrong passwords, each admitted (asserts none was refused)."""
    for _ in range(times):
        await throttle.admit(email, client)


async def refused_for(throttle: LoginThrottle, email: str, client: str | None) -> int:
    """The seconds a refused attempt is told to wait (fails if the attempt is admitted)."""
    with pytest.raises(TooManyRequests) as info:
        await throttle.admit(email, client)
    exc = info.value
    assert exc.status == 429 and exc.retry_after is not None
    said = re.search(r"try again in (\d+) seconds?$", exc.message)
    assert said and int(said.group(1)) == exc.retry_after, exc.message
    return exc.retry_after


async def test_guessing_one_account_from_one_address_is_slowed_to_three_a_minute(throttle, clock):
    await fail(throttle, "ann@x.io", "6.6.6.6", 5)
    assert await refused_for(throttle, "ann@x.io", "6.6.6.6") == 20
    # From then on one guess per 20 seconds: three a minute, whatever the guesser does.
    admitted = 0
    for _ in range(60):  # a minute of trying every second
        clock.advance(1)
        try:
            await throttle.admit("ann@x.io", "6.6.6.6")
            admitted += 1
        except TooManyRequests:
            pass
    assert admitted == 3


async def test_a_refusal_says_how_long_to_wait_and_that_is_enough(throttle, clock):
    await fail(throttle, "ann@x.io", "1.2.3.4", 5)
    clock.advance(7.5)
    wait = await refused_for(throttle, "ann@x.io", "1.2.3.4")
    assert wait == 13  # 20 s per slot, 7.5 s already gone, rounded up
    clock.advance(wait - 1)
    await refused_for(throttle, "ann@x.io", "1.2.3.4")
    clock.advance(1)
    await throttle.admit("ann@x.io", "1.2.3.4")


async def test_an_owner_mistyping_is_locked_for_seconds_not_minutes(throttle, clock):
    await fail(throttle, "ann@x.io", "1.2.3.4", 5)
    assert await refused_for(throttle, "ann@x.io", "1.2.3.4") <= T
    clock.advance(T)
    await throttle.admit("ann@x.io", "1.2.3.4")
    await throttle.succeeded("ann@x.io", "1.2.3.4")
    # Her success forgets her misses from this address: a full burst is available again.
    await fail(throttle, "ann@x.io", "1.2.3.4", 5)


async def test_one_guesser_never_locks_the_owner_out(throttle, clock):
    """A single address is held to 3 guesses a minute; the account allows 6: the owner,
    elsewhere, is never refused however long the guessing goes on."""
    for _ in range(600):  # ten minutes of a guess every second
        clock.advance(1)
        try:
            await throttle.admit("ann@x.io", "6.6.6.6")
        except TooManyRequests:
            pass
    await throttle.admit("ann@x.io", "1.2.3.4")


async def test_an_owner_locked_by_many_guessers_gets_in_within_seconds(throttle, clock):
    for i in range(4):  # a guessing network: 4 addresses x 5 guesses fill the account's 20
        await fail(throttle, "ann@x.io", f"6.6.6.{i}", 5)
    # A fifth address gets no free burst: the account bucket is shared...
    await refused_for(throttle, "ann@x.io", "6.6.6.9")
    # ...and the owner, from her own address, waits for one slot to drain: 10 seconds.
    wait = await refused_for(throttle, "ann@x.io", "1.2.3.4")
    assert wait == T / 2
    clock.advance(wait)
    await throttle.admit("ann@x.io", "1.2.3.4")
    await throttle.succeeded("ann@x.io", "1.2.3.4")


async def test_spraying_many_accounts_from_one_address_is_slowed(throttle, clock):
    for i in range(10):
        await throttle.admit(f"user{i}@x.io", "6.6.6.6")
    wait = await refused_for(throttle, "someone-else@x.io", "6.6.6.6")
    assert wait == T / 4  # one every 5 s over all accounts: 12 a minute
    await throttle.admit("someone-else@x.io", "7.7.7.7")  # another address is fine


async def test_a_neighbour_behind_the_same_address_waits_only_for_the_address_bucket(throttle, clock):
    await fail(throttle, "ann@x.io", "10.0.0.1", 5)  # someone in the office guesses Ann's password
    await refused_for(throttle, "ann@x.io", "10.0.0.1")
    await throttle.admit("bob@x.io", "10.0.0.1")  # Bob, same NAT, logs in: not locked
    await throttle.succeeded("bob@x.io", "10.0.0.1")
    for i in range(5):  # the guesser moves on to other accounts until the address is full
        await throttle.admit(f"user{i}@x.io", "10.0.0.1")
    wait = await refused_for(throttle, "bob@x.io", "10.0.0.1")
    assert wait <= T / 4
    clock.advance(wait)
    await throttle.admit("bob@x.io", "10.0.0.1")


async def test_a_success_refunds_the_attempt_and_an_abandoned_one_costs_nothing(throttle, clock):
    for _ in range(50):  # the owner logging in all day long never fills a bucket
        await throttle.admit("ann@x.io", "1.2.3.4")
        await throttle.succeeded("ann@x.io", "1.2.3.4")
    for _ in range(50):  # nor do attempts that ended with no verdict (database down)
        await throttle.admit("ann@x.io", "1.2.3.4")
        await throttle.abandoned("ann@x.io", "1.2.3.4")
    await fail(throttle, "ann@x.io", "1.2.3.4", 5)


async def test_an_owner_who_mistypes_then_gets_it_right_is_forgiven_everywhere(throttle, clock):
    for _ in range(10):  # four typos, then the right password, again and again
        await fail(throttle, "ann@x.io", "1.2.3.4", 4)
        await throttle.admit("ann@x.io", "1.2.3.4")
        await throttle.succeeded("ann@x.io", "1.2.3.4")
    # Nothing of it counts against her address or her account: a full burst for each.
    for i in range(10):
        await throttle.admit(f"user{i}@x.io", "1.2.3.4")
    await fail(throttle, "ann@x.io", None, 20)


async def test_concurrent_attempts_cannot_overrun_the_burst(throttle, clock):
    """Each attempt is counted when admitted, before its password is checked: guesses
    sent all at once do not all pass while the first ones are still being hashed."""
    admitted = 0
    for _ in range(20):
        try:
            await throttle.admit("ann@x.io", "6.6.6.6")
            admitted += 1
        except TooManyRequests:
            pass
    assert admitted == 5


async def test_unlock_lifts_an_accounts_lock_at_once(throttle, clock):
    for i in range(4):
        await fail(throttle, "ann@x.io", f"6.6.6.{i}", 5)
    await refused_for(throttle, "ann@x.io", "1.2.3.4")
    await refused_for(throttle, "ann@x.io", "6.6.6.0")
    assert await throttle.unlock("ann@x.io") is True
    await throttle.admit("ann@x.io", "1.2.3.4")
    await throttle.admit("ann@x.io", "6.6.6.0")
    assert await throttle.unlock("nobody@x.io") is False


async def test_without_an_address_only_the_account_bucket_applies(throttle, clock):
    await fail(throttle, "ann@x.io", None, 20)
    assert await refused_for(throttle, "ann@x.io", None) == T / 2
    await throttle.admit("bob@x.io", None)


async def test_memory_stays_bounded(clock):
    throttle = LoginThrottle(retry_seconds=T, clock=clock, max_keys=3000)
    for i in range(20_000):  # distinct emails from distinct addresses, as fast as possible
        await throttle.admit(f"u{i}@x.io", f"10.{i // 65536}.{i // 256 % 256}.{i % 256}")
    assert len(throttle) <= 3000
    # Buckets that have drained are swept once the table grows.
    big = LoginThrottle(retry_seconds=T, clock=clock)
    for i in range(10_000):
        await big.admit(f"u{i}@x.io", None)
    assert len(big) == 10_000
    clock.advance(1000)  # every one of them has drained
    await big.admit("late@x.io", None)
    assert len(big) == 1


def test_the_pace_is_configurable_and_checked():
    assert Settings.load(env={}).login_retry_seconds == T
    assert Settings.load(env={"CHATKIT_LOGIN_RETRY_SECONDS": "2.5"}).login_retry_seconds == 2.5
    for bad in ("0", "-1", "nan", "inf", "3601", "soon"):
        with pytest.raises(SettingsError, match="CHATKIT_LOGIN_RETRY_SECONDS"):
            Settings.load(env={"CHATKIT_LOGIN_RETRY_SECONDS": bad})
