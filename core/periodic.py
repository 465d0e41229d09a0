"""Housekeeping that rides along with requests: run an action at most once per interval, by
whichever thread gets there first, without making any other thread wait."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable


class AtMostEvery:
    def __init__(self, interval: dt.timedelta) -> None:
        self._interval = interval
        self._lock = threading.Lock()
        self._next = dt.datetime.min.replace(tzinfo=dt.UTC)

    def run(self, now: dt.datetime, action: Callable[[], object]) -> None:
        """Call `action` if the interval since the last call has passed and no other thread is
        calling it now; otherwise return at once."""
        if now < self._next or not self._lock.acquire(blocking=False):
            return
        try:
            self._next = now + self._interval
            action()
        finally:
            self._lock.release()
