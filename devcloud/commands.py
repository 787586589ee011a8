"""Run one-off commands (db syncs, keystone-manage, apt, pip) with their output in a log."""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import Mapping, Sequence
from pathlib import Path

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
    `log` used by nobody else meanwhile) instead of when the command ends.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    if stream:
        return await _run_streamed(argv, service, log, env, timeout, cwd)
    full_env = {"PATH": BASE_PATH, "LANG": "C.UTF-8", "HOME": str(log.parent), **(env or {})}
    gate = _heavy_gate() if heavy else asyncio.Semaphore(1)
    async with gate:
        started = time.monotonic()
        try:
            child = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                env=full_env,
                cwd=cwd,
            )
        except OSError as exc:
            raise DevcloudError(service, f"cannot run {argv[0]}: {exc}", log) from exc
        try:
            out, _ = await asyncio.wait_for(child.communicate(stdin), timeout)
        except TimeoutError:
            child.kill()
            await child.wait()
            raise DevcloudError(
                service, f"{' '.join(argv[:3])} ... ran past {timeout:.0f} s", log
            ) from None
        except asyncio.CancelledError:
            # another step failed: end this one now rather than when the event loop closes
            child.kill()
            await asyncio.shield(child.wait())
            raise
    text = out.decode("utf-8", "replace")
    with log.open("a") as fh:
        took = time.monotonic() - started
        fh.write(f"\n=== {' '.join(argv)}  (exit {child.returncode}, {took:.1f} s)\n{text}")
    if child.returncode != 0:
        raise DevcloudError(
            service, f"`{' '.join(argv[:4])} ...` failed with exit code {child.returncode}", log
        )
    return text


async def _run_streamed(
    argv: Sequence[str],
    service: str,
    log: Path,
    env: Mapping[str, str] | None,
    timeout: float,
    cwd: Path | None,
) -> str:
    full_env = {"PATH": BASE_PATH, "LANG": "C.UTF-8", "HOME": str(log.parent), **(env or {})}
    with log.open("ab") as out:
        out.write(f"\n=== {' '.join(argv)}\n".encode())
        out.flush()
        start = out.tell()
        try:
            child = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=out,
                stderr=asyncio.subprocess.STDOUT,
                env=full_env,
                cwd=cwd,
            )
        except OSError as exc:
            raise DevcloudError(service, f"cannot run {argv[0]}: {exc}", log) from exc
        try:
            await asyncio.wait_for(child.wait(), timeout)
        except TimeoutError:
            child.kill()
            await child.wait()
            raise DevcloudError(service, f"{argv[0]} ran past {timeout:.0f} s", log) from None
    with log.open("rb") as fh:
        fh.seek(start)
        text = fh.read().decode("utf-8", "replace")
    if child.returncode != 0:
        raise DevcloudError(
            service, f"`{' '.join(argv[:4])} ...` failed with exit code {child.returncode}", log
        )
    return text
