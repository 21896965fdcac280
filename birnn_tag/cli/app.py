"""Command line: parse, validate, call the public API (:mod:`birnn_tag.api`), print a summary.

One module per command family (training, scoring, prediction, export, serving); this one makes
the Typer app of their commands. Library code raises :class:`BirnnTagError`;
:func:`~birnn_tag.cli.console.user_errors` turns it into one line on stderr and exit code 1.
"""

from __future__ import annotations

import typer

from birnn_tag.cli.export import export
from birnn_tag.cli.prediction import predict, select
from birnn_tag.cli.scoring import calibrate, check_data, compare, evaluate
from birnn_tag.cli.serving import serve
from birnn_tag.cli.sharing import push
from birnn_tag.cli.training import TrainCommand, plot, train, tune

app = typer.Typer(no_args_is_help=True, help="Train, evaluate and run bidirectional-RNN sequence taggers and cloze models.")
# In this order in --help.
app.command(cls=TrainCommand)(train)
app.command()(tune)
app.command()(evaluate)
app.command()(predict)
app.command()(plot)
app.command()(calibrate)
app.command()(select)
app.command("check-data")(check_data)
app.command(context_settings={"ignore_unknown_options": True})(compare)
app.command()(export)
app.command()(serve)
app.command()(push)


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
