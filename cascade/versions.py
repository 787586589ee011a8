"""Microversion numbers (`X.Y`), ordered as numbers, not as text (2.10 > 2.9)."""

from __future__ import annotations

import re
from dataclasses import dataclass

_FORMAT = re.compile(r"^([1-9]\d*)\.([1-9]\d*|0)$")


@dataclass(frozen=True, order=True)
class Version:
    major: int
    minor: int

    @classmethod
    def parse(cls, text: str) -> Version:
        """Raises ValueError unless `text` is MajorNum.MinorNum."""
        match = _FORMAT.match(text.strip())
        if match is None:
            raise ValueError(text)
        return cls(int(match.group(1)), int(match.group(2)))

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}"


# What Cascade's compute API implements: up to Nova 34 (the pinned pods' release).
COMPUTE_IMPLEMENTED = (Version(2, 1), Version(2, 104))

# What Cascade's block storage API implements: up to Cinder 29 (the pinned pods' release).
VOLUME_IMPLEMENTED = (Version(3, 0), Version(3, 71))
