"""``birnn-tag serve``: a model over HTTP until SIGTERM or Ctrl-C."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from birnn_tag.cli.console import ERROR, setup_logging, stderr, user_errors
from birnn_tag.cli.options import PRECISION_HELP, Device, Precision
from birnn_tag.errors import BirnnTagError


def serve(
    model: Annotated[Path, typer.Argument(help="Run folder, checkpoint file or export folder.")],
    host: Annotated[str, typer.Option(help="Address to bind: loopback by default; there is no authentication.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535)] = 8000,
    max_batch: Annotated[int, typer.Option(min=1, help="Sentences (tagging) or requests (cloze) run together at most.")] = 256,
    max_wait_ms: Annotated[float, typer.Option(min=0.0, max=10_000.0, help="How long a batch waits for more requests.")] = 5.0,
    max_texts: Annotated[int, typer.Option(min=1, help="Texts or sentences per request at most (more: 413).")] = 1000,
    max_chars: Annotated[int, typer.Option(min=1, help="Characters per request at most (more: 413).")] = 1_000_000,
    device: Annotated[Device, typer.Option(help="Where a run's model runs: auto picks CUDA when available.")] = Device.auto,
    precision: Annotated[Optional[Precision], typer.Option(help=PRECISION_HELP)] = None,
    grace: Annotated[float, typer.Option(min=0.0, help="On SIGTERM or Ctrl-C, seconds to finish the accepted requests; any still running then are cut (exit 1).")] = 30.0,
) -> None:
    """Serve a model over HTTP: POST /tag (taggers) or /fill (cloze), GET /health and /info. SIGTERM or Ctrl-C refuses new requests (503), finishes the accepted ones and exits."""
    from birnn_tag import api

    setup_logging()
    with user_errors():
        try:
            from birnn_tag.service.app import Limits, create_app
            from birnn_tag.service.server import bind, run
        except ImportError as error:
            raise BirnnTagError(f"serving needs FastAPI and uvicorn: pip install 'birnn-tag[serve]' ({error})") from None
        loaded = api.load(model, device.value, precision.value if precision else None)
        limits = Limits(items=max_texts, chars=max_chars)
        service = create_app(loaded, max_batch=max_batch, max_wait=max_wait_ms / 1000, limits=limits)
        listener = bind(host, port)
        bound = listener.getsockname()[1]
        stderr.print(f"serving {model} on http://{host}:{bound} (no authentication: keep it on loopback or behind a proxy)", soft_wrap=True)
        cut = run(service, listener, grace)
    if cut:
        stderr.print(ERROR, f"{cut} accepted request(s) cut: not finished within the grace period of {grace:g} s (--grace)", highlight=False, soft_wrap=True)
        raise typer.Exit(1)
    stderr.print("stopped")
