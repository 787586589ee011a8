"""`cascade-api --config-file FILE`: serve the API with uvicorn."""

from __future__ import annotations

import uvicorn

from cascade.app import create_app
from cascade.cmd.common import config_from_args, exit_with, setup_logging
from cascade.policy import PolicyError
from cascade.services.scheduling import BadPolicy


def main() -> None:
    conf = config_from_args("cascade-api", __doc__)
    try:
        app = create_app(conf)
    except (PolicyError, BadPolicy) as exc:
        exit_with("cascade-api", exc)
    setup_logging()
    # bounded graceful shutdown: open keep-alive connections must not hold a restart
    uvicorn.run(
        app, host=conf.api.host, port=conf.api.port, log_level="info", timeout_graceful_shutdown=5
    )
