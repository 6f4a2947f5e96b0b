"""Full-jitter exponential backoff, in the lowest layer so device reconnects and the sender share one policy.

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
