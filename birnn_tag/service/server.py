"""Running the service's app under uvicorn.

The socket is bound before anything is printed, so a busy port is one line of error. On SIGTERM
or Ctrl-C the app refuses new requests at once (503, see :class:`~birnn_tag.service.middleware.Shutdown`),
uvicorn stops accepting connections and waits up to ``grace`` seconds for the accepted requests
(the batcher keeps running meanwhile, so every queued one is answered), then cancels what is left;
:func:`run` returns how many requests that cut.
"""

from __future__ import annotations

import signal
import socket
from types import FrameType

import uvicorn
from fastapi import FastAPI

from birnn_tag.errors import BirnnTagError
from birnn_tag.service.middleware import Shutdown


def bind(host: str, port: int) -> socket.socket:
    """A socket listening on ``host:port`` (0: a free port), or a :class:`BirnnTagError` such as
    ``127.0.0.1:8000: address already in use``."""
    listener = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does: a restart need not wait for TIME_WAIT
    try:
        listener.bind((host, port))
        listener.listen(2048)
    except OSError as error:  # busy port, address not on this machine, unknown host name
        listener.close()
        reason = error.strerror or str(error)
        raise BirnnTagError(f"{host}:{port}: {reason[0].lower()}{reason[1:]}") from None
    return listener


def run(app: FastAPI, listener: socket.socket, grace: float) -> int:
    """Serve ``app`` (from :func:`~birnn_tag.service.app.create_app`) on ``listener`` until SIGTERM
    or Ctrl-C, then stop as the module says; returns the number of accepted requests cut after
    ``grace`` seconds."""
    server = _Server(uvicorn.Config(app, timeout_graceful_shutdown=grace, log_level="warning"), app.state.shutdown)
    # Once stopped, uvicorn raises the signal it caught again, to end the process the way the signal
    # would have; ignoring it here lets the caller report the cut requests and choose the exit code.
    previous = {sig: signal.signal(sig, _ignore) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        server.run(sockets=[listener])
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return app.state.shutdown.cut


class _Server(uvicorn.Server):
    """uvicorn's server, which tells the app the moment a signal asks it to stop (uvicorn itself
    notices at its next tick, up to 0.1 s later, and still hands over requests until then)."""

    def __init__(self, config: uvicorn.Config, shutdown: Shutdown) -> None:
        super().__init__(config)
        self.app_shutdown = shutdown  # not `shutdown`: uvicorn's method of that name

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self.app_shutdown.begun = True
        super().handle_exit(sig, frame)


def _ignore(signum: int, frame: FrameType | None) -> None:
    """A signal handler that does nothing (see :func:`run`)."""
