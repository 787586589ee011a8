"""Compute API errors: Nova's fault body (`api.faults`)."""

from __future__ import annotations

from cascade.api.faults import Fault

ComputeError = Fault
