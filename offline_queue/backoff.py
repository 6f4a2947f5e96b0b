"""When to try again: full-jitter exponential backoff and Retry-After.

Used by the sender and, unchanged, by the fleet simulation in
``bench/bench_queue.py`` -- so the simulation measures the real policy.
Full jitter (a uniform draw between 0 and the exponential ceiling) spreads a
fleet's retries evenly instead of letting kiosks that failed together retry
together; after a long outage every kiosk sits at the cap, so its next retry
is uniform over ``[0, cap]`` and the recovery is not a thundering herd.
"""
from __future__ import annotations

import random


def full_jitter(failures: int, base_s: float, cap_s: float, rng: random.Random | None = None) -> float:
    """Delay after the ``failures``-th consecutive failure (1, 2, ...)."""
    rng = rng or random
    ceiling = min(cap_s, base_s * 2.0 ** min(max(failures - 1, 0), 62))
    return rng.uniform(0.0, ceiling)


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
