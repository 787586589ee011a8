"""`cascade-manage`: what operators do by hand, on Cascade's database and configuration.

- `db upgrade [REVISION]`: migrate the database (to the newest schema by default).
- `config sample`: a cascade.conf with every option, its default and its help.
- `config check`: the configuration read, the policy file loaded (every rule parsed and
  defined), the database reached and at the newest schema; exit 1 naming what is wrong.
- `pod register NAME --cloud ENTRY --az AZ`: register a pod from a clouds.yaml entry
  (the file os-client-config would read: `--clouds-yaml`, `$OS_CLIENT_CONFIG_FILE`,
  `./clouds.yaml`, `~/.config/openstack/clouds.yaml`, `/etc/openstack/clouds.yaml`):
  a shared pod when the entry's Keystone is the top's (`[keystone] auth_url`), else an
  independent one with the entry's Keystone and account. The same checks as
  `POST /v1/pods`; the password is never printed.
- `pod list`: each pod's AZ, state, identity and health, as the health check last saw.
- `job status`: jobs not done by type and status, the ready ones and the oldest's age.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from cascade.api.admin import pods as pods_api
from cascade.api.errors import ApiError
from cascade.cmd.common import exit_with
from cascade.conf import Conf, ConfigError, load, sample
from cascade.db.engine import make_engine, sessions
from cascade.db.migrate import alembic_config, upgrade
from cascade.db.models import Pod
from cascade.jobs import queue
from cascade.policy import Policy, PolicyError
from cascade.services import pods as pod_service
from cascade.services.network import policies as network_policies

PROG = "cascade-manage"
CLOUDS_YAML = (
    Path("clouds.yaml"),
    Path.home() / ".config" / "openstack" / "clouds.yaml",
    Path("/etc/openstack/clouds.yaml"),
)


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    top.add_argument("--config-file", type=Path, default=None)
    sub = top.add_subparsers(dest="command", required=True)
    db = sub.add_parser("db", help="database schema")
    db.add_argument("action", choices=["upgrade"])
    db.add_argument("revision", nargs="?", default="head")
    config = sub.add_parser("config", help="configuration")
    config.add_argument("action", choices=["sample", "check"])
    pod = sub.add_parser("pod", help="pods")
    pod_sub = pod.add_subparsers(dest="action", required=True)
    register = pod_sub.add_parser("register", help="register a pod from a clouds.yaml entry")
    register.add_argument("name", help="the pod's name at the top")
    register.add_argument("--cloud", required=True, help="the clouds.yaml entry")
    register.add_argument("--clouds-yaml", type=Path, default=None)
    register.add_argument("--az", required=True, help="the top AZ the pod serves")
    register.add_argument("--pod-az", default=None, help="the AZ inside the pod (default: --az)")
    register.add_argument("--tag", action="append", default=[], help="a tag (repeatable)")
    pod_sub.add_parser("list", help="each pod's AZ, state, identity and health")
    job = sub.add_parser("job", help="the job queue")
    job.add_argument("action", choices=["status"])
    return top


def main(argv: Sequence[str] | None = None) -> None:
    args = parser().parse_args(argv)
    try:
        conf = load(args.config_file)
    except ConfigError as exc:
        exit_with(PROG, exc)
    if args.command == "db":
        asyncio.run(upgrade(conf.database.connection, args.revision))
        print(f"{PROG}: database at {conf.database.connection} is at {args.revision}")
    elif args.command == "config" and args.action == "sample":
        print(sample())
    elif args.command == "config":
        problems = asyncio.run(check(conf))
        for line in problems:
            print(f"{PROG}: {line}")
        if problems:
            raise SystemExit(1)
        print(f"{PROG}: configuration, policy and database are fine")
    elif args.command == "pod" and args.action == "register":
        body = pod_body(args, conf)
        try:
            made = asyncio.run(_with_engine(conf, lambda e: _register(e, body)))
        except (ApiError, pod_service.PodConflict, pod_service.PodInvalid) as exc:
            exit_with(PROG, exc)
        print(f"{PROG}: pod {made.name} ({made.id}) registered, {made.identity or 'shared'}")
    elif args.command == "pod":
        print(table(asyncio.run(_with_engine(conf, _pods))))
    else:
        print(table(asyncio.run(_with_engine(conf, _jobs))))


async def _with_engine(conf: Conf, work: Any) -> Any:
    engine = make_engine(conf.database.connection, conf.database)
    try:
        return await work(engine)
    finally:
        await engine.dispose()


async def check(conf: Conf) -> list[str]:
    """What is wrong with the configuration, the policy file and the database; none:
    all is well."""
    problems = []
    try:
        Policy.from_file(conf.policy.file, network_policies.defaults())
    except PolicyError as exc:
        problems.append(f"policy: {exc}")
    engine = make_engine(conf.database.connection, conf.database)
    current: set[str] | None = None
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
            try:
                found = await connection.execute(text("SELECT version_num FROM alembic_version"))
                current = {row[0] for row in found}
            except DBAPIError:  # no such table: a database never migrated
                current = set()
    except Exception as exc:  # anything the database says is a problem to name
        problems.append(f"database {conf.database.connection}: {type(exc).__name__}: {exc}")
    finally:
        await engine.dispose()
    if current is not None:
        config = alembic_config(conf.database.connection)
        heads = set(ScriptDirectory.from_config(config).get_heads())
        if current != heads:
            problems.append(
                f"database: at {sorted(current) or 'no revision'}, the code's is "
                f"{sorted(heads)}: run `{PROG} db upgrade`"
            )
    return problems


def clouds_entry(name: str, path: Path | None) -> dict[str, Any]:
    """Entry `name` of the first clouds.yaml found (os-client-config's order)."""
    env = os.environ.get("OS_CLIENT_CONFIG_FILE")
    candidates = [path] if path else [*([Path(env)] if env else []), *CLOUDS_YAML]
    for candidate in candidates:
        if candidate.is_file():
            clouds = (yaml.safe_load(candidate.read_text()) or {}).get("clouds", {})
            if name not in clouds:
                raise ConfigError(f"{candidate} has no cloud {name!r}")
            return dict(clouds[name])
    raise ConfigError(f"no clouds.yaml found (looked at {', '.join(map(str, candidates))})")


def pod_body(args: argparse.Namespace, conf: Conf) -> dict[str, Any]:
    """The `POST /v1/pods` body for the clouds.yaml entry `args.cloud`."""
    try:
        entry = clouds_entry(args.cloud, args.clouds_yaml)
    except ConfigError as exc:
        exit_with(PROG, exc)
    auth = dict(entry.get("auth") or {})
    region = entry.get("region_name") or args.name
    fields: dict[str, Any] = {
        "name": args.name,
        "region_name": region,
        "az": args.az,
        "pod_az": args.pod_az or args.az,
    }
    if args.tag:
        fields["tags"] = args.tag
    top = conf.keystone.auth_url.rstrip("/").removesuffix("/v3")
    own = str(auth.get("auth_url", "")).rstrip("/").removesuffix("/v3")
    if own and own != top:
        # a whole cloud of its own: its own Keystone, and the entry's account there
        keys = ("username", "password", "project_name", "user_domain_name")
        credentials = {k: auth[k] for k in (*keys, "project_domain_name") if k in auth}
        fields |= {
            "region_name": args.name,  # unique at the top; its own region may be RegionOne
            "identity": "independent",
            "auth_url": f"{own}/v3",
            "credentials": credentials,
            "catalog_region": region,
        }
    return {"pod": fields}


async def _register(engine: AsyncEngine, body: dict[str, Any]) -> Pod:
    spec = pods_api._spec(body, creating=True)  # the admin API's own checks
    async with sessions(engine)() as db:
        return await pod_service.create(db, spec)


async def _pods(engine: AsyncEngine) -> list[list[str]]:
    async with sessions(engine)() as db:
        found = await pod_service.list_all(db)
    rows = [["name", "az", "state", "identity", "health", "last check", "last error"]]
    for pod in found:
        checked = (
            pod.health_checked_at.isoformat(timespec="seconds") if pod.health_checked_at else "-"
        )
        rows.append([
            pod.name, pod.az, pod.state, pod.identity or "shared", pod.health_state or "-",
            checked, (pod.health_error or "-")[:60],
        ])  # fmt: skip
    return rows


async def _jobs(engine: AsyncEngine) -> list[list[str]]:
    async with sessions(engine)() as db:
        found = await queue.depth(db)
    rows = [["type", "status", "jobs"], *([k, s, str(n)] for k, s, n in found.by_type)]
    age = f"{found.oldest_ready_seconds:.0f} s" if found.ready else "-"
    rows.append(["(ready)", "queued", f"{found.ready} (oldest waiting {age})"])
    return rows


def table(rows: list[list[str]]) -> str:
    """Rows as aligned columns, the first a header."""
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows
    )
