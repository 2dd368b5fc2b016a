"""The login throttle's window: failures expire, so a lock lifts by itself."""

import pytest

from chatkit.domain.errors import TooManyRequests
from chatkit.domain.throttle import LoginThrottle


def test_lock_lifts_when_the_window_passes():
    now = [1000.0]
    throttle = LoginThrottle(per_account=3, per_client=100, window_seconds=60, clock=lambda: now[0])
    for _ in range(3):
        throttle.check("ann@x.io", "1.2.3.4")
        throttle.failed("ann@x.io", "1.2.3.4")
    with pytest.raises(TooManyRequests, match="try again in 1 minute"):
        throttle.check("ann@x.io", "1.2.3.4")
    now[0] += 61
    throttle.check("ann@x.io", "1.2.3.4")  # no longer locked


def test_one_client_guessing_many_accounts_is_locked_out():
    throttle = LoginThrottle(per_account=100, per_client=5, window_seconds=60)
    for i in range(5):
        throttle.failed(f"user{i}@x.io", "6.6.6.6")
    with pytest.raises(TooManyRequests):
        throttle.check("someone-else@x.io", "6.6.6.6")
    throttle.check("someone-else@x.io", "7.7.7.7")  # another client is fine
