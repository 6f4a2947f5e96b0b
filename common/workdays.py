"""Working days (Monday to Friday; holidays are not modelled): one rule for the platform's promised
dates and supplement deadlines and the kiosk's own estimate of them when it is offline."""
from __future__ import annotations

import datetime as dt


def add_working_days(start: dt.date, days: int) -> dt.date:
    current = start
    while days > 0:
        current += dt.timedelta(days=1)
        if current.weekday() < 5:
            days -= 1
    return current
