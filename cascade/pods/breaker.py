"""A circuit breaker per pod service: a dead pod costs milliseconds, not timeouts.

closed -> (N consecutive failures) -> open: refuse at once
open -> (reset time passed) -> half-open: let one request probe
half-open -> success: closed; failure: open again

A breaker the periodic health check watches (`watch`) is probed by the check
alone: a request is never the one that waits on a pod that hangs. A check
that fails opens it at once (`trip`), one that answers closes it.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class Breaker:
    def __init__(
        self, failures: int, reset_seconds: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.threshold = failures
        self.reset_seconds = reset_seconds
        self.clock = clock
        self.failures = 0
        self.opened_at: float | None = None
        self.probing = False
        self.watched_until = float("-inf")

    @property
    def state(self) -> str:
        if self.opened_at is None:
            return "closed"
        if self.clock() - self.opened_at >= self.reset_seconds:
            return "half-open"
        return "open"

    def allow(self) -> bool:
        """May a request go out now? In half-open, only one probe at a time."""
        state = self.state
        if state == "closed":
            return True
        if state == "half-open" and not self.probing and self.clock() >= self.watched_until:
            self.probing = True
            return True
        return False

    def watch(self, seconds: float) -> None:
        """The health check probes this pod service for the next `seconds`: requests do not
        (if it stops, requests probe again once that time has passed)."""
        self.watched_until = self.clock() + seconds

    def trip(self) -> None:
        """Open now: a health check found the pod service not answering."""
        self.failures = max(self.failures, self.threshold)
        self.opened_at = self.clock()
        self.probing = False

    def abandon(self) -> None:
        """A request that went out as the probe was cancelled before any answer: another
        may probe (the caller that cancelled it counts the failure, see `fanout`)."""
        self.probing = False

    def success(self) -> None:
        self.failures = 0
        self.opened_at = None
        self.probing = False

    def failure(self) -> None:
        self.failures += 1
        self.probing = False
        if self.opened_at is not None or self.failures >= self.threshold:
            self.opened_at = self.clock()
