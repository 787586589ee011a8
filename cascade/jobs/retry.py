"""When a failed job runs again: exponential backoff with a cap, separate from execution."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from cascade.conf import JobsSection


@dataclass(frozen=True)
class RetryPolicy:
    base_seconds: float
    max_seconds: float
    max_attempts: int = 8  # for jobs enqueued without their own (max_attempts 0)

    @classmethod
    def from_conf(cls, conf: JobsSection) -> RetryPolicy:
        return cls(conf.backoff_base_seconds, conf.backoff_max_seconds, conf.max_attempts)

    def attempts_allowed(self, job_max_attempts: int) -> int:
        """A job's own bound on its runs, or this policy's when it has none (0)."""
        return job_max_attempts if job_max_attempts > 0 else self.max_attempts

    def delay(self, failed_attempts: int) -> timedelta:
        """The wait after a job's attempt number `failed_attempts` (0-based) failed:
        base, 2*base, 4*base... never more than the cap."""
        exponent = min(max(failed_attempts, 0), 62)  # 2**62 * base is past any cap
        return timedelta(seconds=min(self.max_seconds, self.base_seconds * 2**exponent))
