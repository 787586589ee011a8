"""What the long-running commands share: `--config-file`, a clear exit on bad config,
and one log format."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import NoReturn

from cascade.conf import Conf, ConfigError, load


def config_from_args(prog: str, description: str | None) -> Conf:
    """The configuration named by `--config-file`; exit status 2 with the reason if bad."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument(
        "--config-file",
        type=Path,
        default=None,
        help="INI file (see `cascade-manage config sample`); default: all defaults",
    )
    args = parser.parse_args()
    try:
        return load(args.config_file)
    except ConfigError as exc:
        exit_with(prog, exc)


def exit_with(prog: str, exc: Exception) -> NoReturn:
    print(f"{prog}: {exc}", file=sys.stderr)
    sys.exit(2)
