"""When to try again: full-jitter exponential backoff and Retry-After.

Used by the sender and, unchanged, by the fleet simulation in
``bench/bench_queue.py`` -- so the simulation measures the real policy.  The
jitter itself is :func:`common.backoff.full_jitter`, which the devices'
reconnect loop uses too.
"""
from __future__ import annotations

import random

from common.backoff import full_jitter


def retry_delay(failures: int, retry_after: float | None, base_s: float, cap_s: float,
                rng: random.Random | None = None) -> float:
    """The wait before the next attempt.

    A server's Retry-After is a floor, never shortened; up to half of it again
    is added at random so a fleet told "60 s" does not return in one instant.
    """
    rng = rng or random
    if retry_after is not None and retry_after >= 0:
        return retry_after + rng.uniform(0.0, min(retry_after * 0.5, cap_s))
    return full_jitter(failures, base_s, cap_s, rng)
