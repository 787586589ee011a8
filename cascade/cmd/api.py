"""`cascade-api --config-file FILE`: serve the API with uvicorn."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import uvicorn

from cascade.app import create_app
from cascade.conf import ConfigError, load
from cascade.policy import PolicyError
from cascade.services.scheduling import BadPolicy


def main() -> None:
    parser = argparse.ArgumentParser(prog="cascade-api", description=__doc__)
    parser.add_argument(
        "--config-file",
        type=Path,
        default=None,
        help="INI file (see `cascade-manage config sample`); default: all defaults",
    )
    args = parser.parse_args()
    try:
        conf = load(args.config_file)
        app = create_app(conf)
    except (ConfigError, PolicyError, BadPolicy) as exc:
        print(f"cascade-api: {exc}", file=sys.stderr)
        sys.exit(2)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    # bounded graceful shutdown: open keep-alive connections must not hold a restart
    uvicorn.run(
        app, host=conf.api.host, port=conf.api.port, log_level="info", timeout_graceful_shutdown=5
    )
