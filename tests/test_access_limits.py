"""Rate limits (seasight.access.limits) driven by a fake clock."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seasight.access import accounts as acc
from seasight.access.keys import AuthError
from seasight.access.limits import LoginLimiter, RateLimitedError, RateLimiter, login
from seasight.store import Store


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_login_limiter_per_username() -> None:
    clock = Clock()
    lim = LoginLimiter(5, 300, clock=clock)
    for _ in range(5):
        lim.check("alice", "10.0.0.1")
        lim.failure("alice", "10.0.0.1")
        clock.t += 10
    with pytest.raises(RateLimitedError) as info:
        lim.check("alice", "10.0.0.2")  # another address: still the same user
    # the first failure was at 1000, the window is 300 s, now is 1050
    assert info.value.retry_after == pytest.approx(250)
    assert info.value.retry_after_header == "250"
    lim.check("bob", "10.0.0.3")
    clock.t = 1300.0
    lim.check("alice")  # the oldest failure left the window
    lim.failure("alice")
    with pytest.raises(RateLimitedError):
        lim.check("alice")


def test_login_limiter_per_address_and_success_resets_user() -> None:
    clock = Clock()
    lim = LoginLimiter(3, 60, max_failures_per_address=4, clock=clock)
    for name in ("u1", "u2", "u3", "u4"):
        lim.failure(name, "6.6.6.6")
    assert lim.retry_after("u5", "6.6.6.6") == pytest.approx(60)
    assert lim.retry_after("u5", "7.7.7.7") == 0
    lim.failure("carol")
    lim.failure("carol")
    lim.success("carol")
    lim.failure("carol")
    lim.failure("carol")
    assert lim.retry_after("carol") == 0
    clock.t += 61
    assert lim.retry_after("u5", "6.6.6.6") == 0


def test_limiter_memory_is_bounded() -> None:
    lim = LoginLimiter(1, 60, clock=Clock(), max_entries=100)
    for i in range(1000):
        lim.failure(f"user{i}", f"10.0.{i // 256}.{i % 256}")
    assert len(lim._failures) <= 100
    bucket = RateLimiter(1, 1, clock=Clock(), max_entries=50)
    for i in range(500):
        bucket.allow(f"k{i}")
    assert len(bucket._buckets) <= 50


def test_token_bucket() -> None:
    clock = Clock()
    bucket = RateLimiter(rate=2, burst=4, clock=clock)
    assert [bucket.allow("key") for _ in range(4)] == [0, 0, 0, 0]
    assert bucket.allow("key") == pytest.approx(0.5)
    assert bucket.allow("other") == 0
    clock.t += 0.5
    assert bucket.allow("key") == 0
    clock.t += 100
    assert [bucket.allow("key") for _ in range(4)] == [0, 0, 0, 0]  # at most burst saved up
    with pytest.raises(RateLimitedError) as info:
        bucket.check("key")
    assert info.value.retry_after_header == "1"
    with pytest.raises(ValueError, match="exceeds the burst"):
        bucket.allow("key", cost=5)
    with pytest.raises(ValueError):
        RateLimiter(rate=0, burst=1)
    with pytest.raises(ValueError):
        RateLimiter(rate=1, burst=0.5)


@settings(max_examples=60, deadline=None)
@given(rate=st.floats(0.1, 50), burst=st.integers(1, 20),
       steps=st.lists(st.floats(0, 5), min_size=1, max_size=60))
def test_token_bucket_never_exceeds_rate(rate: float, burst: int, steps: list[float]) -> None:
    clock = Clock()
    bucket = RateLimiter(rate, burst, clock=clock)
    start, allowed = clock.t, 0
    for dt in steps:
        clock.t += dt
        if bucket.allow("k") == 0:
            allowed += 1
    assert allowed <= burst + rate * (clock.t - start) + 1e-6


def test_login_with_store(tmp_path: Path) -> None:
    clock = Clock()
    lim = LoginLimiter(2, 60, clock=clock)
    with Store(tmp_path / "l.duckdb") as store:
        acc.create_organisation(store, "Navy A")
        acc.create_user(store, "Navy A", "alice", "viewer", "right password")
        assert login(store, lim, "alice", "right password", "1.2.3.4").name == "alice"
        for _ in range(2):
            with pytest.raises(AuthError):
                login(store, lim, "alice", "wrong password", "1.2.3.4")
        with pytest.raises(RateLimitedError):  # even the right password, for now
            login(store, lim, "alice", "right password", "1.2.3.4")
        clock.t += 61
        assert login(store, lim, "alice", "right password", "1.2.3.4").organisation == "Navy A"
