"""INI rendering for oslo.config."""

from __future__ import annotations

from pathlib import Path

from devcloud.ini import render, write_if_changed


def test_render_sections_and_values() -> None:
    text = render({"DEFAULT": {"debug": False, "workers": 1}, "db": {"url": "mysql://x"}})
    assert text == "[DEFAULT]\ndebug = false\nworkers = 1\n\n[db]\nurl = mysql://x\n"


def test_write_if_changed_reports_changes(tmp_path: Path) -> None:
    path = tmp_path / "a" / "x.conf"
    assert write_if_changed(path, "one") is True
    assert write_if_changed(path, "one") is False
    assert write_if_changed(path, "two") is True
    assert path.read_text() == "two"
