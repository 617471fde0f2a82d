"""13-month trend charts as vector SVG, drawn by matplotlib.

Each chart shows the value line, the target and warn lines with the bands
between them, status-coloured points, hollow points for low-sample months, and
a ring with a small "r" around each month restated since its report printed it.
"""

from __future__ import annotations

import io
import re
from typing import Collection

import matplotlib

matplotlib.use("Agg")  # no display; must precede any pyplot-dependent import

from matplotlib.figure import Figure  # noqa: E402

from ..agenda.score import ScoredMetric  # noqa: E402
from ..months import Month  # noqa: E402

RESTATED_COLOUR = "#5b2a86"

COLOURS = {"on_track": "#1b7f3b", "at_risk": "#b86e00", "off_track": "#c0262d", "no_data": "#777777"}
_RC = {
    "svg.fonttype": "none",  # keep text as text: small files, the report's font
    "svg.hashsalt": "cxtruth",  # stable ids, so the same data gives the same PDF
    "font.family": "DejaVu Sans",
    "font.size": 7,
}


_SVG_ID = re.compile(r'(\bid="|url\(#|xlink:href="#)([^"\)]+)')


def trend_svg(metric: ScoredMetric, restated: Collection[Month] = (), width_in: float = 6.6,
              height_in: float = 1.7) -> str:
    """The metric's trend as an ``<svg>`` element (no XML prolog), ready to inline in HTML.

    ``restated``: months whose value changed since their report printed it; each is ringed
    and marked "r" (a month with no data now gets the "r" alone).

    Element ids get the metric's key as a prefix: many charts share one HTML
    document, and matplotlib numbers ids per figure.
    """
    with matplotlib.rc_context(_RC):
        fig = Figure(figsize=(width_in, height_in))
        ax = fig.add_axes((0.07, 0.17, 0.91, 0.78))
        points = metric.trend
        x = list(range(len(points)))
        y = [float("nan") if p.value is None else p.value for p in points]
        known = [v for v in y if v == v]
        span = known + [metric.target, metric.warn]
        low, high = min(span), max(span)
        pad = (high - low) * 0.15 or max(abs(high) * 0.1, 1.0)
        bottom, top = low - pad, high + pad
        if metric.unit in ("percent", "days") and bottom < 0 <= low:
            bottom = 0
        better_top = metric.direction == "higher"
        # Bands: off-track beyond warn, at-risk between warn and target.
        ax.axhspan(metric.warn, metric.target, color=COLOURS["at_risk"], alpha=0.08, lw=0)
        ax.axhspan(bottom if better_top else metric.warn, metric.warn if better_top else top,
                   color=COLOURS["off_track"], alpha=0.06, lw=0)
        ax.axhline(metric.target, color=COLOURS["on_track"], lw=0.9, ls=(0, (4, 2)))
        ax.axhline(metric.warn, color=COLOURS["off_track"], lw=0.7, ls=(0, (1, 2)))
        ax.text(len(points) - 0.55, metric.target, " target", color=COLOURS["on_track"], va="center", fontsize=6.5)
        ax.text(len(points) - 0.55, metric.warn, " warn", color=COLOURS["off_track"], va="center", fontsize=6.5)
        ax.plot(x, y, color="#2b3a55", lw=1.3, zorder=3)
        for xi, p in zip(x, points):
            if p.value is None:
                ax.text(xi, bottom + (top - bottom) * 0.04, "no data", rotation=90, fontsize=5.5,
                        color=COLOURS["no_data"], ha="center", va="bottom")
                continue
            colour = COLOURS[p.status]
            ax.plot([xi], [p.value], marker="o", ms=4.2, zorder=4, color=colour,
                    markerfacecolor="white" if p.low_sample else colour, markeredgewidth=1.1)
        for xi, p in zip(x, points):
            if p.month in restated:
                _mark_restated(ax, xi, p.value if p.value is not None else bottom + (top - bottom) * 0.5)
        ax.set_ylim(bottom, top)
        ax.set_xlim(-0.5, len(points) - 0.5 + 1.3)
        ax.set_xticks(x, [p.month.short_label for p in points])
        ax.tick_params(length=2, pad=2, colors="#444444")
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        for side in ("left", "bottom"):
            ax.spines[side].set_color("#999999")
        ax.grid(axis="y", color="#e5e5e5", lw=0.5)
        ax.set_axisbelow(True)
        buffer = io.StringIO()
        fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    svg = buffer.getvalue()
    svg = _SVG_ID.sub(lambda m: f"{m[1]}{metric.key}-{m[2]}", svg)
    return svg[svg.index("<svg"):]



def _mark_restated(ax, x: float, y: float) -> None:
    """A ring around the point and a small "r" above it right: restated since printed."""
    ax.plot([x], [y], marker="o", ms=8.5, zorder=5, color=RESTATED_COLOUR, markerfacecolor="none",
            markeredgewidth=0.9, gid=f"restated-{x:g}")
    ax.annotate("r", (x, y), xytext=(4.5, 3.5), textcoords="offset points", fontsize=6.5, fontweight="bold",
                color=RESTATED_COLOUR, zorder=5, gid=f"restated-r-{x:g}")
