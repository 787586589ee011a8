"""`cascade-api --config-file FILE`: serve the API with uvicorn."""

from __future__ import annotations

import uvicorn

from cascade import logs
from cascade.app import create_app
from cascade.cmd.common import config_from_args, exit_with
from cascade.policy import PolicyError
from cascade.services.scheduling import BadPolicy


def main() -> None:
    conf = config_from_args("cascade-api", __doc__)
    try:
        logs.setup(conf.logging.level, conf.logging.json)
    except ValueError as exc:  # a level logging does not know
        exit_with("cascade-api", exc)
    try:
        app = create_app(conf)
    except (PolicyError, BadPolicy) as exc:
        exit_with("cascade-api", exc)
    # bounded graceful shutdown: open keep-alive connections must not hold a restart.
    # uvicorn logs through Cascade's handler (no config of its own) and leaves the
    # access lines to Cascade's middleware, which puts the request's ids on them
    uvicorn.run(
        app,
        host=conf.api.host,
        port=conf.api.port,
        log_config=None,
        log_level=conf.logging.level.lower(),
        access_log=False,
        timeout_graceful_shutdown=5,
    )
