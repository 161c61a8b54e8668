"""Small PNG plots for dataset cards and training metadata (matplotlib, no display)."""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping, Sequence


def _png(figure) -> bytes:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png", dpi=90)
    plt.close(figure)
    return buffer.getvalue()


def histogram_png(
    values_by_label: Mapping[str, Sequence[int]], title: str, xlabel: str, bins: int = 30
) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6, 3.2))
    for label, values in values_by_label.items():
        if values:
            axes.hist(values, bins=bins, alpha=0.6, label=f"{label} ({len(values)})")
    axes.set_title(title)
    axes.set_xlabel(xlabel)
    axes.set_ylabel("examples")
    axes.legend()
    return _png(figure)


def loss_curve_png(train: Sequence[tuple[int, float]], evals: Sequence[tuple[int, float]] = ()) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6, 3.2))
    if train:
        axes.plot(*zip(*train), label="train loss")
    if evals:
        axes.plot(*zip(*evals), "o-", label="eval cross-entropy")
    axes.set_xlabel("batch")
    axes.set_ylabel("loss")
    axes.set_title("training loss")
    axes.legend()
    return _png(figure)


def markdown_image(png: bytes, alt: str) -> str:
    """A Markdown image with the PNG embedded (Dagster's UI renders data URIs in `MetadataValue.md`)."""
    return f"![{alt}](data:image/png;base64,{base64.b64encode(png).decode()})"


def rate_over_time_png(
    series: Mapping[str, Sequence[tuple[str, float]]], title: str, ylabel: str = "acceptance rate"
) -> bytes:
    """One line per label over ordered time labels (e.g. hours): `{label: [(time, rate), ...]}`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6, 3.2))
    for label, points in series.items():
        if points:
            axes.plot(*zip(*points), "o-", label=label)
    axes.set_ylim(0, 1)
    axes.set_title(title)
    axes.set_ylabel(ylabel)
    axes.tick_params(axis="x", labelrotation=45, labelsize=7)
    if series:
        axes.legend()
    return _png(figure)
