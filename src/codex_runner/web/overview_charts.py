"""Charts as SVG drawn on the server: stacked bars, lines with gaps, and a bar per value.

No script and no library: the page's CSP lets no inline style in, so colours are SVG
presentation attributes, and every text is escaped (model names come from callers).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

from markupsafe import Markup, escape

WIDTH = 760
HEIGHT = 200
LEFT = 56  # room for the y axis' labels
RIGHT = 12
TOP = 12
BOTTOM = 42  # room for the x labels and the legend
PALETTE = ("#2f5fa7", "#b42318", "#9a6700", "#1f7a3d", "#6f42c1", "#0e7490", "#6a737d")
AXIS = "#6a737d"
GRID = "#dde1e6"

Format = Callable[[float], str]


def count(value: float) -> str:
    if value >= 1_000_000:
        return f"{value / 1_000_000:.3g}M"
    if value >= 1_000:
        return f"{value / 1_000:.3g}k"
    return f"{value:.3g}" if value % 1 else str(int(value))


def seconds(value: float) -> str:
    if value >= 3600:
        return f"{value / 3600:.2g} h"
    if value >= 60:
        return f"{value / 60:.2g} min"
    return f"{value:.2g} s"


def size(value: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.3g} {unit}" if unit != "B" else f"{int(value)} B"
        value /= 1024
    return f"{value:.3g} TiB"


def percent(value: float) -> str:
    return f"{value:.0f}%"


def stacked_bars(
    title: str,
    labels: Sequence[str],
    series: Mapping[str, Sequence[float]],
    *,
    fmt: Format = count,
    label_every: int = 1,
) -> Markup:
    """One bar per label, the series stacked in it, a legend below."""
    totals = [sum(values[i] for values in series.values()) for i in range(len(labels))]
    top = _nice_max(max(totals, default=0))
    plot_w = WIDTH - LEFT - RIGHT
    slot = plot_w / max(1, len(labels))
    bar_w = max(1.0, slot * 0.8)
    parts = [_open(title), *_grid(top, fmt)]
    for i in range(len(labels)):
        y = _y(0, top)
        for s, (name, values) in enumerate(series.items()):
            value = values[i]
            if value <= 0:
                continue
            h = _y(0, top) - _y(value, top)
            y -= h
            x = LEFT + i * slot + (slot - bar_w) / 2
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
                f'fill="{_colour(s)}"><title>{escape(labels[i])}: {escape(name)} '
                f"{escape(fmt(value))}</title></rect>"
            )
    parts += _x_labels(labels, label_every)
    parts += _legend(list(series))
    parts.append("</svg>")
    return Markup("".join(parts))


def lines(
    title: str,
    labels: Sequence[str],
    series: Mapping[str, Sequence[float | None]],
    *,
    fmt: Format = seconds,
    label_every: int = 1,
) -> Markup:
    """One line per series over the labels; a None leaves a gap, a lone value is a dot."""
    values = [v for vs in series.values() for v in vs if v is not None]
    top = _nice_max(max(values, default=0))
    plot_w = WIDTH - LEFT - RIGHT
    slot = plot_w / max(1, len(labels))
    parts = [_open(title), *_grid(top, fmt)]
    for s, (name, points) in enumerate(series.items()):
        colour = _colour(s)
        for run in _runs(points):
            coords = [(LEFT + (i + 0.5) * slot, _y(v, top)) for i, v in run]
            if len(coords) > 1:
                path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
                parts.append(
                    f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>'
                )
            for (i, v), (x, y) in zip(run, coords, strict=True):
                parts.append(
                    f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{colour}">'
                    f"<title>{escape(labels[i])}: {escape(name)} {escape(fmt(v))}</title>"
                    "</circle>"
                )
    parts += _x_labels(labels, label_every)
    parts += _legend(list(series))
    parts.append("</svg>")
    return Markup("".join(parts))


def meters(
    title: str, values: Mapping[str, float], *, limit: float = 100.0, fmt: Format = percent
) -> Markup:
    """One horizontal bar per name, filled to its value out of ``limit``."""
    row = 26
    height = TOP + row * max(1, len(values)) + 8
    plot_w = WIDTH - 160 - 60
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        f'viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" '
        f'aria-label="{escape(title)}"><title>{escape(title)}</title>'
    ]
    for i, (name, value) in enumerate(values.items()):
        y = TOP + i * row
        filled = plot_w * min(1.0, max(0.0, value / limit))
        colour = PALETTE[1] if fmt is percent and value >= 0.9 * limit else PALETTE[0]
        parts.append(
            f'<text x="0" y="{y + 14}" font-size="12" fill="{AXIS}">{escape(name)}</text>'
            f'<rect x="160" y="{y + 2}" width="{plot_w}" height="16" fill="{GRID}"/>'
            f'<rect x="160" y="{y + 2}" width="{filled:.1f}" height="16" fill="{colour}"/>'
            f'<text x="{160 + plot_w + 8}" y="{y + 14}" font-size="12" fill="{AXIS}">'
            f"{escape(fmt(value))}</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def _open(title: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" '
        f'aria-label="{escape(title)}"><title>{escape(title)}</title>'
    )


def _y(value: float, top: float) -> float:
    plot_h = HEIGHT - TOP - BOTTOM
    return TOP + plot_h * (1 - (value / top if top else 0))


def _grid(top: float, fmt: Format) -> list[str]:
    parts = []
    for step in range(5):
        value = top * step / 4
        y = _y(value, top)
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="{GRID}" stroke-width="1"/>'
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end" '
            f'fill="{AXIS}">{escape(fmt(value))}</text>'
        )
    return parts


def _x_labels(labels: Sequence[str], every: int) -> list[str]:
    slot = (WIDTH - LEFT - RIGHT) / max(1, len(labels))
    y = HEIGHT - BOTTOM + 14
    return [
        f'<text x="{LEFT + (i + 0.5) * slot:.1f}" y="{y}" font-size="11" text-anchor="middle" '
        f'fill="{AXIS}">{escape(label)}</text>'
        for i, label in enumerate(labels)
        # None too close to the right edge, where it would be cut off.
        if i % max(1, every) == 0 and (i == 0 or i + every // 2 < len(labels))
    ]


def _legend(names: Sequence[str]) -> list[str]:
    parts = []
    x = LEFT
    y = HEIGHT - 10
    for s, name in enumerate(names):
        parts.append(
            f'<rect x="{x}" y="{y - 9}" width="10" height="10" fill="{_colour(s)}"/>'
            f'<text x="{x + 14}" y="{y}" font-size="12" fill="{AXIS}">{escape(name)}</text>'
        )
        x += 24 + 7 * len(name)
    return parts


def _runs(points: Sequence[float | None]) -> list[list[tuple[int, float]]]:
    runs: list[list[tuple[int, float]]] = []
    current: list[tuple[int, float]] = []
    for i, value in enumerate(points):
        if value is None:
            if current:
                runs.append(current)
            current = []
        else:
            current.append((i, value))
    if current:
        runs.append(current)
    return runs


def _nice_max(value: float) -> float:
    """A round top for the axis, at least ``value`` (1 for an empty chart)."""
    if value <= 0:
        return 1.0
    magnitude = 10.0 ** math.floor(math.log10(value))
    for factor in (1, 2, 2.5, 5, 10):
        if factor * magnitude >= value:
            return factor * magnitude
    return 10 * magnitude


def _colour(index: int) -> str:
    return PALETTE[index % len(PALETTE)]
