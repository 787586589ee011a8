"""`cascade-manage`: `db upgrade`, `config sample`."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from cascade.cmd.common import exit_with
from cascade.conf import ConfigError, load, sample
from cascade.db.migrate import upgrade


def main() -> None:
    parser = argparse.ArgumentParser(prog="cascade-manage")
    parser.add_argument("--config-file", type=Path, default=None)
    sub = parser.add_subparsers(dest="command", required=True)
    db = sub.add_parser("db", help="database schema")
    db.add_argument("action", choices=["upgrade"])
    db.add_argument("revision", nargs="?", default="head")
    config = sub.add_parser("config", help="configuration")
    config.add_argument("action", choices=["sample"])
    args = parser.parse_args()
    try:
        conf = load(args.config_file)
    except ConfigError as exc:
        exit_with("cascade-manage", exc)
    if args.command == "db":
        asyncio.run(upgrade(conf.database.connection, args.revision))
        print(f"cascade-manage: database at {conf.database.connection} is at {args.revision}")
    else:
        print(sample())
