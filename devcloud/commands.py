"""Run one-off commands (db syncs, keystone-manage, apt, pip) with their output in a log."""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import time
import weakref
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO

from devcloud.errors import DevcloudError
from devcloud.proc import BASE_PATH

# Two cores: more than a few Python start-ups at once only thrash. One gate per event loop.
_GATES: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
    weakref.WeakKeyDictionary()
)


def _heavy_gate() -> asyncio.Semaphore:
    loop = asyncio.get_running_loop()
    gate = _GATES.get(loop)
    if gate is None:
        gate = _GATES[loop] = asyncio.Semaphore(3)
    return gate


async def run(
    argv: Sequence[str],
    *,
    service: str,
    log: Path,
    env: Mapping[str, str] | None = None,
    stdin: bytes | None = None,
    timeout: float = 600.0,
    heavy: bool = True,
    cwd: Path | None = None,
    stream: bool = False,
) -> str:
    """Run `argv` to completion, append its output to `log`, return the output.

    Raises `DevcloudError` naming `service` if it fails or runs past `timeout`.
    `heavy` commands (Python start-ups) share a small concurrency limit.
    `stream` writes the output to `log` as it comes (for long runs, with
    `log` used by nobody else meanwhile); otherwise it goes to a file of its
    own and is appended to `log` in one piece when the command ends, so that
    commands running at once do not interleave their lines.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    full_env = {"PATH": BASE_PATH, "LANG": "C.UTF-8", "HOME": str(log.parent), **(env or {})}
    gate = _heavy_gate() if heavy else contextlib.nullcontext()
    async with gate:
        started = time.monotonic()
        with log.open("a+b") if stream else tempfile.TemporaryFile(dir=log.parent) as out:
            out.write(f"\n=== {' '.join(argv)}\n".encode())
            out.flush()
            begin = out.tell()
            code = await _wait(argv, service, log, out, full_env, stdin, timeout, cwd)
            out.seek(begin)
            text = out.read().decode("utf-8", "replace")
        if not stream:
            took = time.monotonic() - started
            with log.open("a") as fh:
                fh.write(f"\n=== {' '.join(argv)}  (exit {code}, {took:.1f} s)\n{text}")
    if code != 0:
        raise DevcloudError(
            service, f"`{' '.join(argv[:4])} ...` failed with exit code {code}", log
        )
    return text


async def _wait(
    argv: Sequence[str],
    service: str,
    log: Path,
    out: IO[bytes],
    env: dict[str, str],
    stdin: bytes | None,
    timeout: float,
    cwd: Path | None,
) -> int:
    """Start the command with its output to `out` and wait for its exit code."""
    try:
        child = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
            stdout=out,
            stderr=asyncio.subprocess.STDOUT,
            env=env,
            cwd=cwd,
        )
    except OSError as exc:
        raise DevcloudError(service, f"cannot run {argv[0]}: {exc}", log) from exc
    try:
        await asyncio.wait_for(child.communicate(stdin), timeout)
    except TimeoutError:
        child.kill()
        await child.wait()
        raise DevcloudError(service, f"{argv[0]} ran past {timeout:.0f} s", log) from None
    except asyncio.CancelledError:
        # another step failed: end this one now rather than when the event loop closes
        child.kill()
        await asyncio.shield(child.wait())
        raise
    assert child.returncode is not None
    return child.returncode
