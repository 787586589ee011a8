"""Render oslo.config INI files from plain dicts and write them only when they change."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

Value = str | int | bool
Sections = Mapping[str, Mapping[str, Value]]


def _value(value: Value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def render(sections: Sections) -> str:
    # No inline comments: oslo.config would keep them as part of the value.
    out: list[str] = []
    for name, options in sections.items():
        out.append(f"[{name}]")
        out.extend(f"{key} = {_value(val)}" for key, val in options.items())
        out.append("")
    return "\n".join(out)


def write_if_changed(path: Path, text: str) -> bool:
    """Write `text` to `path`; True if the file is new or its content changed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() and path.read_text() == text:
        return False
    path.write_text(text)
    return True
