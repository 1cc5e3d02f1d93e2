"""`python -m actions`: the rasa-sdk action server, logging through our redacting JSON formatter."""

import os

from rasa_sdk.endpoint import run

from actions.metrics import MeasuredExecutor
from core.logs import configure_logging
from core.settings import Settings


def main() -> None:
    settings = Settings()
    configure_logging("actions", settings.log_level)
    executor = MeasuredExecutor()  # counts and times every run; brings GET /metrics (actions/metrics.py)
    executor.register_package("actions")
    # Only the engine calls the action server: no browser origin needs CORS, and it listens on loopback
    # unless told otherwise (rasa-sdk would listen on every interface).
    os.environ["SANIC_HOST"] = settings.action_server_listen
    run(executor, port=settings.action_server_port, cors_origins=[])


# Sanic's worker processes import this module again: only the real entry point may start a server.
if __name__ == "__main__":
    main()
