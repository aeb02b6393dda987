"""The documents' charts, drawn with matplotlib off screen and embedded as PNG data URIs (a document is one file)."""
from __future__ import annotations

import base64
from collections.abc import Sequence
import io

SERIES = "#1f4e79"      # the data; the tests look for this colour in the PDF pages
LIMIT = "#c00000"       # tolerances and action signals


def _figure():
    import matplotlib
    matplotlib.use("Agg")          # no screen: draw to memory
    import matplotlib.pyplot as plt
    return plt.subplots(figsize=(7.0, 3.0), dpi=150)


def _finish(fig, ax, unit: str, title: str) -> str:
    """Label, close and return the figure as a PNG data URI for the document."""
    import matplotlib.pyplot as plt
    ax.set_ylabel(unit)
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def control_chart(values: list[float], dates: list[str], chart: dict | None, tolerance: float | None, unit: str,
           title: str) -> str:
    """A control chart with its limits (and the tolerance)."""
    fig, ax = _figure()
    x = list(range(1, len(values) + 1))
    ax.plot(x, values, "o-", color=SERIES, lw=1.2, ms=4)
    if chart is not None:
        ax.axhline(chart["centre"], color="#444", lw=1)
        for lo, hi, style in ((*chart["warning"], "--"), (*chart["action"], "-")):
            ax.axhline(lo, color="#c07000", ls=style, lw=0.9)
            ax.axhline(hi, color="#c07000", ls=style, lw=0.9)
        for v in chart["violations"]:
            ax.plot(x[v["index"]], values[v["index"]], "o", mfc="none", mec=LIMIT, ms=10, mew=1.5)
    if tolerance is not None:
        for t in (-tolerance, tolerance):
            ax.axhline(t, color=LIMIT, lw=1.2)
    ax.set_xticks(x, [d[5:] for d in dates], rotation=45, fontsize=7)
    return _finish(fig, ax, unit, title)


def drift_plot(days: Sequence[float], values: list[float], drift: dict | None, tolerance: float | None, unit: str,
                title: str, w: dict[str, str], origin: str) -> str:
    """The checks against time with the fitted drift line (and the tolerance)."""
    import numpy as np
    fig, ax = _figure()
    ax.plot(days, values, "o", color=SERIES, ms=4)
    if drift is not None and len(days) >= 2:
        t = np.linspace(min(days), max(days), 50)
        b = drift["slope"]
        a = float(np.mean(values) - b * np.mean(days))
        ax.plot(t, a + b * t, "-", color="#444", lw=1, label=f"{b:+.3g} {unit}/d")
        ax.legend(fontsize=7)
    if tolerance is not None:
        for tol in (-tolerance, tolerance):
            ax.axhline(tol, color=LIMIT, lw=1.2)
    ax.set_xlabel(f"{w['days']} {w['since']} {origin}")
    return _finish(fig, ax, unit, title)


def series_plot(hours: list[float], values: list[float], excluded: list[tuple[float, float]], mean: float | None,
                set_point: float | None, unit: str, title: str, xlabel: str) -> str:
    """Readings against time: the used ones joined, the excluded ones as open marks, the mean and the set point."""
    fig, ax = _figure()
    ax.plot(hours, values, ".-", color=SERIES, lw=0.8, ms=3)
    if excluded:
        ax.plot([h for h, _ in excluded], [v for _, v in excluded], "o", mfc="none", mec=LIMIT, ms=5)
    if mean is not None:
        ax.axhline(mean, color="#444", lw=1)
    if set_point is not None:
        ax.axhline(set_point, color="#c07000", ls="--", lw=0.9)
    ax.set_xlabel(xlabel)
    ax.ticklabel_format(axis="y", useOffset=False)
    return _finish(fig, ax, unit, title)
