"""One-off commands: output returned and logged, failures named."""

from __future__ import annotations

from pathlib import Path

import pytest

from devcloud.commands import run
from devcloud.errors import DevcloudError


@pytest.mark.parametrize("stream", [False, True])
async def test_output_is_returned_and_appended_to_the_log(tmp_path: Path, stream: bool) -> None:
    log = tmp_path / "x.log"
    assert await run(["sh", "-c", "echo one"], service="s", log=log, stream=stream) == "one\n"
    assert await run(["sh", "-c", "echo two"], service="s", log=log, stream=stream) == "two\n"
    text = log.read_text()
    assert text.index("one") < text.index("two")


async def test_stdin_is_passed(tmp_path: Path) -> None:
    out = await run(["cat"], service="s", log=tmp_path / "x.log", stdin=b"select 1;")
    assert out == "select 1;"


async def test_failure_names_the_service_and_keeps_the_output(tmp_path: Path) -> None:
    log = tmp_path / "x.log"
    with pytest.raises(DevcloudError) as caught:
        await run(["sh", "-c", "echo no such table; exit 2"], service="pod1-nova", log=log)
    assert caught.value.service == "pod1-nova"
    assert "exit code 2" in caught.value.message
    assert "no such table" in caught.value.report()


async def test_timeout_kills_and_reports(tmp_path: Path) -> None:
    with pytest.raises(DevcloudError) as caught:
        await run(["sleep", "30"], service="slow", log=tmp_path / "x.log", timeout=0.5)
    assert "ran past" in caught.value.message
