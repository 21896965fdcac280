"""``training.tensorboard: true``: every epoch's metrics record also as TensorBoard scalars, an
``events.out.tfevents.*`` file in the run folder (the optional ``[tensorboard]`` extra), for users
who follow runs there."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from birnn_tag.errors import ConfigError
from birnn_tag.training.events import EpochDone, Event, Listener


def tensorboard_listener(run_dir: Path, then: Listener) -> tuple[Listener, Callable[[], None]]:
    """A listener that writes each :class:`EpochDone` record's numbers as scalars (step = epoch)
    and passes every event on to ``then``; and the function that closes the writer.

    The event file is opened at the first epoch's end, after the run folder was (re)made: a run
    folder holds files only, and ``--overwrite`` clears it at the first checkpoint.
    """
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise ConfigError("training.tensorboard: needs the tensorboard package: pip install 'birnn-tag[tensorboard]'") from None
    writers: list[SummaryWriter] = []

    def listen(event: Event) -> None:
        if isinstance(event, EpochDone):
            if not writers:
                writers.append(SummaryWriter(log_dir=str(run_dir)))
            for key, value in event.record.items():
                if key != "epoch" and isinstance(value, (int, float)) and not isinstance(value, bool):
                    writers[0].add_scalar(key, value, event.record["epoch"])
            writers[0].flush()
        then(event)

    def close() -> None:
        for writer in writers:
            writer.close()

    return listen, close
