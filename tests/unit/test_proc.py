"""The supervisor: start, readiness, failure reports, stop by pid (and only ours)."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from devcloud.errors import DevcloudError
from devcloud.proc import Proc, Record, Supervisor, start_ticks


@pytest.fixture
def sup(tmp_path: Path) -> Iterator[Supervisor]:
    supervisor = Supervisor(tmp_path / "run", tmp_path / "log", tmp_path / "home")
    yield supervisor
    for record in supervisor.records():  # never leave a test's process behind
        if supervisor.alive(record):
            os.killpg(record.pid, 9)


@pytest.fixture
def listener() -> Iterator[int]:
    """A port that something else already listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def sleeper(name: str, **kw: object) -> Proc:
    return Proc(name=name, argv=("sleep", "300"), tier="pod", settle=0.2, **kw)  # type: ignore[arg-type]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_start_ready_stop(sup: Supervisor) -> None:
    proc = sleeper("svc")
    assert await sup.ensure(proc) is True
    record = sup.running("svc")
    assert record is not None and start_ticks(record.pid) == record.start_ticks
    assert await sup.ensure(proc) is False  # running and answering: left alone
    assert await sup.stop("svc") is True
    assert start_ticks(record.pid) is None
    assert sup.records() == []


async def test_http_service_is_ready_when_it_answers(sup: Supervisor) -> None:
    port = free_port()
    proc = Proc(
        name="web",
        argv=(sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(port)),
        tier="shared",
        port=port,
        url=f"http://127.0.0.1:{port}/",
        start_timeout=20,
    )
    await sup.ensure(proc)
    record = sup.running("web")
    assert record is not None and await sup.answers(record)
    await sup.stop_all()
    assert not sup.alive(record)


async def test_exit_during_start_is_reported_with_the_log(sup: Supervisor) -> None:
    proc = Proc(
        name="boom", argv=("sh", "-c", "echo cannot open config; exit 3"), tier="pod", settle=1.0
    )
    with pytest.raises(DevcloudError) as caught:
        await sup.ensure(proc)
    err = caught.value
    assert err.service == "boom"
    assert "exit code 3" in err.message
    report = err.report()
    assert "cannot open config" in report
    assert str(sup.log_path("boom")) in report


async def test_start_timeout_stops_the_process_and_names_it(sup: Supervisor) -> None:
    port = free_port()  # nobody will listen there
    proc = sleeper("mute", port=port, url=f"http://127.0.0.1:{port}/", start_timeout=1.0)
    with pytest.raises(DevcloudError) as caught:
        await sup.ensure(proc)
    assert caught.value.service == "mute"
    assert "did not answer" in caught.value.message
    assert sup.records() == []  # stopped again: nothing half-started


async def test_port_in_use_is_refused_before_starting(sup: Supervisor, listener: int) -> None:
    with pytest.raises(DevcloudError) as caught:
        await sup.ensure(sleeper("taken", port=listener))
    assert f"127.0.0.1:{listener} is already in use" in caught.value.message
    assert sup.records() == []


async def test_dead_process_is_restarted(sup: Supervisor) -> None:
    proc = sleeper("flaky")
    await sup.ensure(proc)
    first = sup.running("flaky")
    assert first is not None
    os.killpg(first.pid, 9)
    for _ in range(100):  # the kernel needs a moment to turn it into a zombie
        if not sup.alive(first):
            break
        await asyncio.sleep(0.02)
    assert await sup.ensure(proc) is True
    second = sup.running("flaky")
    assert second is not None and second.pid != first.pid


async def test_stop_takes_the_whole_process_group(sup: Supervisor, tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    proc = Proc(
        name="forker",
        argv=("sh", "-c", f"sleep 300 & echo $! > {pidfile}; wait"),
        tier="pod",
        settle=0.5,
    )
    await sup.ensure(proc)
    child = int(pidfile.read_text())
    assert start_ticks(child) is not None
    await sup.stop("forker")
    assert start_ticks(child) is None


async def test_a_recycled_pid_is_never_signalled(sup: Supervisor) -> None:
    # A pid file whose pid now belongs to another process (here: this test run).
    me = os.getpid()
    stale = Record(
        name="old",
        pid=me,
        start_ticks=(start_ticks(me) or 0) + 1,
        tier="pod",
        port=None,
        url=None,
        log="",
    )
    sup.run_dir.mkdir(parents=True)
    (sup.run_dir / "old.json").write_text(json.dumps(stale.__dict__))
    assert sup.running("old") is None
    assert await sup.stop("old") is False  # and we are still alive to assert it
    assert sup.records() == []
