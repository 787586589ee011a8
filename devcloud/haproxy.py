"""HAProxy (Debian's package) in front of cascade-api replicas: its configuration and
its admin socket, for the replicas test and the scale benchmark."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

BINARY = shutil.which("haproxy") or "/usr/sbin/haproxy"  # `bin/devcloud up` installs it
BACKEND = "replicas"


def config(port: int, replicas: list[int], admin: Path) -> str:
    """Round-robin over `replicas` (ports on 127.0.0.1), each checked with its
    `/healthcheck` (down after three checks failed in a row); a request whose
    connection failed or got no answer is sent again to another replica; `admin`: the
    admin socket (drain, ready, stats)."""
    servers = "\n".join(
        f"    server api{n} 127.0.0.1:{p} check inter 300ms fall 3 rise 2"
        for n, p in enumerate(replicas, 1)
    )
    return f"""global
    stats socket {admin} level admin
    maxconn 4000

defaults
    mode http
    timeout connect 3s
    timeout client 60s
    timeout server 60s
    # a check's own time: a replica slow to answer on a loaded machine (the devcloud and
    # the tests share two cores) is not taken for one that is down (the check's timeout
    # is `inter` otherwise, 300 ms)
    timeout check 2s
    retries 3
    option redispatch
    retry-on conn-failure empty-response

frontend cascade
    bind 127.0.0.1:{port}
    default_backend {BACKEND}

backend {BACKEND}
    balance roundrobin
    option httpchk GET /healthcheck
    http-check expect status 200
{servers}
"""


async def command(admin: Path, line: str) -> str:
    """One command on the admin socket, its answer."""
    reader, writer = await asyncio.open_unix_connection(str(admin))
    writer.write(line.encode() + b"\n")
    await writer.drain()
    answer = await reader.read()
    writer.close()
    return answer.decode()


async def server_state(admin: Path, name: str) -> tuple[str, int]:
    """A replica's status (UP, DOWN, DRAIN, ...) and its current sessions."""
    stat = await command(admin, "show stat")
    header = stat.splitlines()[0].lstrip("# ").split(",")
    for line in stat.splitlines()[1:]:
        row = dict(zip(header, line.split(","), strict=False))
        if row.get("pxname") == BACKEND and row.get("svname") == name:
            return row["status"], int(row["scur"] or 0)
    raise LookupError(f"{name} not in HAProxy's stats:\n{stat}")


async def is_state(admin: Path, name: str, status: str) -> bool:
    try:
        return (await server_state(admin, name))[0] == status
    except (OSError, LookupError):
        return False


async def wait_state(admin: Path, name: str, status: str, timeout: float = 60.0) -> None:
    """Until HAProxy's check shows `name` in `status`."""
    for _ in range(int(timeout / 0.1)):
        if await is_state(admin, name, status):
            return
        await asyncio.sleep(0.1)
    raise TimeoutError(f"HAProxy did not see {name} {status} within {timeout:g} s")
