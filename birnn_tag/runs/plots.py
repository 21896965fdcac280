"""Pictures of runs (matplotlib, the optional ``[plots]`` extra): learning curves from
``metrics.jsonl`` and confusion-matrix heatmaps. Written with the Agg backend, so no display is
needed."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from birnn_tag.errors import BirnnTagError


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        raise BirnnTagError("plots need matplotlib: pip install 'birnn-tag[plots]'") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def read_metrics(run: Path) -> list[dict]:
    """A run folder's per-epoch records (``metrics.jsonl``)."""
    path = run / "metrics.jsonl"
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise BirnnTagError(f"{path}: cannot read: {error.strerror}") from None
    records = []
    for number, line in enumerate(lines, start=1):
        if line.strip():
            try:
                records.append(json.loads(line))
            except ValueError:
                raise BirnnTagError(f"{path}:{number}: not a JSON record") from None
    return records


def plot_curves(runs: Sequence[Path], output: Path) -> Path:
    """Training loss, dev scores (the headline only, for several runs) and learning rate per epoch
    of one or more runs, overlaid, as a PNG at ``output``."""
    plt = _pyplot()
    figure, (loss, dev, rate) = plt.subplots(3, 1, figsize=(8, 9), sharex=True, constrained_layout=True)
    for run in runs:
        records = read_metrics(run)
        if not records:
            raise BirnnTagError(f"{run / 'metrics.jsonl'}: no epochs recorded yet")
        epochs = [record["epoch"] for record in records]
        name = run.name if len(runs) > 1 else None
        loss.plot(epochs, [r["train_loss"] for r in records], marker="o", markersize=3, label=name)
        rate.plot(epochs, [r["lr"] for r in records], marker="o", markersize=3, label=name)
        # A record lists the headline dev score first; with several runs, only it is drawn.
        keys = list(dict.fromkeys(key for r in records for key in r if key.startswith("dev_")))
        for key in keys if len(runs) == 1 else keys[:1]:
            values = [r.get(key) for r in records]
            if all(v is not None and v <= 1 for v in values):  # scores in [0, 1] drawn as %
                prefix = f"{run.name}: " if len(runs) > 1 else ""
                dev.plot(epochs, [100 * v for v in values], marker="o", markersize=3, label=prefix + key[4:].replace("_", " "))
        best = [r["epoch"] for r in records if r.get("best")]
        if best and len(runs) == 1:
            dev.axvline(best[-1], color="grey", linestyle=":", label=f"best epoch ({best[-1]})")
    loss.set(ylabel="training loss (per sentence)", title="learning curves" + (f": {runs[0]}" if len(runs) == 1 else ""))
    dev.set(ylabel="dev score (%)")
    rate.set(ylabel="learning rate", xlabel="epoch")
    for axes in (loss, dev, rate):
        axes.grid(alpha=0.3)
        if axes.get_legend_handles_labels()[0]:
            axes.legend(fontsize="small")
    figure.savefig(output, dpi=110)
    plt.close(figure)
    return output


def plot_confusion(matrix: Sequence[Sequence[int]], rows: Sequence[str], columns: Sequence[str], output: Path, title: str) -> Path:
    """A heatmap of ``matrix`` (gold ``rows`` × predicted ``columns``) with each cell's count, as a PNG."""
    plt = _pyplot()
    size = max(4.0, 0.6 * max(len(rows), len(columns)) + 2)
    figure, axes = plt.subplots(figsize=(size + 1.5, size), constrained_layout=True)
    image = axes.imshow(matrix, cmap="Blues")
    axes.set_xticks(range(len(columns)), labels=columns, rotation=45, ha="right")
    axes.set_yticks(range(len(rows)), labels=rows)
    axes.set(xlabel="predicted", ylabel="gold", title=title)
    peak = max((max(row) for row in matrix), default=0)
    for i, row in enumerate(matrix):
        for j, count in enumerate(row):
            if count:
                axes.text(j, i, str(count), ha="center", va="center", fontsize="small", color="white" if count > peak / 2 else "black")
    figure.colorbar(image, ax=axes, label="count")
    figure.savefig(output, dpi=110)
    plt.close(figure)
    return output
