"""How ``birnn-tag train`` shows a run's progress events (:mod:`birnn_tag.training.events`) on a console:
a transient progress bar per epoch, one line per epoch, the final report tables."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeRemainingColumn
from rich.text import Text

from birnn_tag.training.events import EpochDone, Event, Message, ReportDone, StepsDone


class TrainingView:
    """A context manager whose :meth:`show` renders each event as it comes."""

    def __init__(self, console: Console, progress: bool = True) -> None:
        self.console = console
        self.progress = _progress_bar(console) if progress else None
        self.bar: TaskID | None = None

    def __enter__(self) -> TrainingView:
        if self.progress is not None:
            self.progress.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.progress is not None:
            self.progress.stop()

    def show(self, event: Event) -> None:
        """Render one event."""
        if isinstance(event, StepsDone):
            self._advance(event)
            return
        if isinstance(event, EpochDone) and self.bar is not None:
            self.progress.remove_task(self.bar)
            self.bar = None
        if isinstance(event, Message):
            # Text, not markup: a message's square brackets ("birnn-tag[plots]") are its own.
            prefix = Text("warning: ", style="yellow") if event.level == "warning" else Text()
            self.console.print(prefix + Text(event.text), highlight=False, soft_wrap=True)
        elif isinstance(event, EpochDone):
            self.console.print(epoch_line(event.record))
        elif isinstance(event, ReportDone):
            self.console.print(event.report.table(f"{event.split} ({event.checkpoint})"))

    def _advance(self, event: StepsDone) -> None:
        if self.progress is None:
            return
        if self.bar is None:
            self.bar = self.progress.add_task(f"epoch {event.epoch}", total=event.steps, loss=0.0, speed=0.0)
        self.progress.update(self.bar, completed=event.step, loss=event.loss, speed=event.tokens_per_s)


def epoch_line(record: dict[str, Any]) -> str:
    """An epoch's metrics record as one line: loss, lr, speed, time, dev scores, ``*`` if best."""
    dev = "".join(
        f"  {key[4:]} {100 * value:6.2f}" if value <= 1 else f"  {key[4:]} {value:.2f}"
        for key, value in record.items()
        if key.startswith("dev_")
    )
    star = "  *" if record["best"] and dev else ""
    return (
        f"epoch {record['epoch']:3d}  loss {record['train_loss']:.4f}  lr {record['lr']:.5f}  "
        f"{record['train_tokens_per_s']:8,.0f} tok/s  {record['train_seconds']:6.1f}s{dev}{star}"
    )


def _progress_bar(console: Console) -> Progress:
    """A transient progress bar with loss, tokens/s and time left."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("loss {task.fields[loss]:.4f}"),
        TextColumn("{task.fields[speed]:,.0f} tok/s"),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    )
