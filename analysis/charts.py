"""The report's charts as standalone, accessible SVG (role="img", <title> and <desc> in words),
drawn from `analysis.report.report`'s dict without any plotting library. Each chart function
returns the SVG text; the results page puts a table beside each."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from xml.sax.saxutils import escape

WIDTH = 680
LABEL_WIDTH = 250
RIGHT = 30
ROW = 30
TOP = 40
BOTTOM = 46
COLOURS = ("#1f5fbf", "#c0392b", "#1e8449", "#7d3c98", "#b9770e", "#117a8b")
MARKERS = ("circle", "square", "diamond", "triangle")


def _attr(value: Any) -> str:
    return escape(str(value), {'"': "&quot;"})


def _svg(chart_id: str, title: str, desc: str, height: int, body: list[str]) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" id="{_attr(chart_id)}" role="img" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc" viewBox="0 0 {WIDTH} {height}" '
        f'width="{WIDTH}" height="{height}" font-family="sans-serif" font-size="12">'
        f'<title id="{chart_id}-title">{escape(title)}</title>'
        f'<desc id="{chart_id}-desc">{escape(desc)}</desc>'
        f'<rect width="{WIDTH}" height="{height}" fill="#fff"/>'
        f'<text x="10" y="20" font-size="14" font-weight="bold">{escape(title)}</text>'
        + "".join(body)
        + "</svg>"
    )


def _marker(shape: str, x: float, y: float, colour: str, filled: bool = True) -> str:
    fill = colour if filled else "#fff"
    style = f'fill="{fill}" stroke="{colour}" stroke-width="2"'
    if shape == "square":
        return f'<rect x="{x - 5:.1f}" y="{y - 5:.1f}" width="10" height="10" {style}/>'
    if shape == "diamond":
        return (
            f'<polygon points="{x:.1f},{y - 6:.1f} {x + 6:.1f},{y:.1f} {x:.1f},{y + 6:.1f} '
            f'{x - 6:.1f},{y:.1f}" {style}/>'
        )
    if shape == "triangle":
        return (
            f'<polygon points="{x:.1f},{y - 6:.1f} {x + 6:.1f},{y + 5:.1f} '
            f'{x - 6:.1f},{y + 5:.1f}" {style}/>'
        )
    return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="5" {style}/>'


def _axis(scale, low: float, high: float, ticks: Sequence[float], y: float, label: str, fmt):
    parts = [f'<line x1="{scale(low):.1f}" y1="{y}" x2="{scale(high):.1f}" y2="{y}" '
             'stroke="#444"/>']  # fmt: skip
    for t in ticks:
        x = scale(t)
        parts.append(f'<line x1="{x:.1f}" y1="{y}" x2="{x:.1f}" y2="{y + 5}" stroke="#444"/>')
        parts.append(f'<text x="{x:.1f}" y="{y + 18}" text-anchor="middle">{fmt(t)}</text>')
    middle = (scale(low) + scale(high)) / 2
    parts.append(f'<text x="{middle:.1f}" y="{y + 36}" text-anchor="middle">{escape(label)}</text>')
    return parts


def _linear(low: float, high: float, left: float, right: float):
    return lambda v: left + (v - low) / (high - low) * (right - left)


def interval_chart(
    *,
    chart_id: str,
    title: str,
    desc: str,
    rows: Sequence[tuple[str, float | None, Sequence[float] | None]],
    domain: tuple[float, float],
    ticks: Sequence[float],
    axis_label: str,
    reference: float | None = None,
    reference_label: str = "",
    fmt=lambda v: f"{v:g}",
) -> str:
    """One row per estimate: a dot at the value and whiskers over the interval (none when the
    interval is None), with an optional dashed reference line."""
    height = TOP + ROW * max(1, len(rows)) + BOTTOM
    scale = _linear(*domain, LABEL_WIDTH, WIDTH - RIGHT)
    body = []
    axis_y = TOP + ROW * max(1, len(rows))
    if reference is not None:
        x = scale(reference)
        body.append(f'<line x1="{x:.1f}" y1="{TOP - 6}" x2="{x:.1f}" y2="{axis_y}" '
                    'stroke="#888" stroke-dasharray="4 3"/>')  # fmt: skip
        body.append(f'<text x="{x + 4:.1f}" y="{TOP - 8}" fill="#555">{escape(reference_label)}'
                    "</text>")  # fmt: skip
    for i, (label, value, ci) in enumerate(rows):
        y = TOP + ROW * i + ROW / 2
        body.append(f'<text x="{LABEL_WIDTH - 10}" y="{y + 4:.1f}" text-anchor="end">'
                    f"{escape(label)}</text>")  # fmt: skip
        if value is None:
            body.append(f'<text x="{LABEL_WIDTH + 4}" y="{y + 4:.1f}" fill="#555">no data</text>')
            continue
        if ci is not None:
            lo, hi = scale(ci[0]), scale(ci[1])
            body.append(f'<line x1="{lo:.1f}" y1="{y:.1f}" x2="{hi:.1f}" y2="{y:.1f}" '
                        'stroke="#1f5fbf" stroke-width="2"/>')  # fmt: skip
            for x in (lo, hi):
                body.append(f'<line x1="{x:.1f}" y1="{y - 6:.1f}" x2="{x:.1f}" y2="{y + 6:.1f}" '
                            'stroke="#1f5fbf" stroke-width="2"/>')  # fmt: skip
        body.append(_marker("circle", scale(value), y, COLOURS[0]))
    body += _axis(scale, *domain, ticks, axis_y, axis_label, fmt)
    return _svg(chart_id, title, desc, height, body)


def paired_chart(
    *,
    chart_id: str,
    title: str,
    desc: str,
    rows: Sequence[tuple[str, float | None, float | None]],
    series: tuple[str, str],
    domain: tuple[float, float] = (1, 7),
    axis_label: str = "Agreement (1-7)",
) -> str:
    """One row per comparison: a hollow marker for the first series, a filled one for the
    second, joined by a line; a legend names both."""
    height = TOP + ROW * max(1, len(rows)) + BOTTOM + 20
    scale = _linear(*domain, LABEL_WIDTH, WIDTH - RIGHT)
    body = []
    for i, (label, first, second) in enumerate(rows):
        y = TOP + ROW * i + ROW / 2
        body.append(f'<text x="{LABEL_WIDTH - 10}" y="{y + 4:.1f}" text-anchor="end">'
                    f"{escape(label)}</text>")  # fmt: skip
        if first is None or second is None:
            body.append(f'<text x="{LABEL_WIDTH + 4}" y="{y + 4:.1f}" fill="#555">no data</text>')
            continue
        body.append(f'<line x1="{scale(first):.1f}" y1="{y:.1f}" x2="{scale(second):.1f}" '
                    f'y2="{y:.1f}" stroke="#999" stroke-width="2"/>')  # fmt: skip
        body.append(_marker("circle", scale(first), y, COLOURS[0], filled=False))
        body.append(_marker("square", scale(second), y, COLOURS[1]))
    axis_y = TOP + ROW * max(1, len(rows))
    body += _axis(scale, *domain, range(int(domain[0]), int(domain[1]) + 1), axis_y, axis_label,
                  lambda v: f"{v:g}")  # fmt: skip
    legend_y = axis_y + BOTTOM + 8
    body.append(_marker("circle", LABEL_WIDTH, legend_y - 4, COLOURS[0], filled=False))
    body.append(f'<text x="{LABEL_WIDTH + 10}" y="{legend_y}">{escape(series[0])}</text>')
    body.append(_marker("square", LABEL_WIDTH + 160, legend_y - 4, COLOURS[1]))
    body.append(f'<text x="{LABEL_WIDTH + 170}" y="{legend_y}">{escape(series[1])}</text>')
    return _svg(chart_id, title, desc, height, body)


def _pct(v: float) -> str:
    return f"{v * 100:.0f}%"


def _ci_words(ci, fmt) -> str:
    return f" (95% interval {fmt(ci[0])} to {fmt(ci[1])})" if ci else " (no interval)"


def win_rates_chart(result: dict[str, Any]) -> str:
    rows, words = [], []
    for r in result["win_rates"]:
        label = f"{r['condition']} · it {r['iteration_index']} · {r['a']} vs {r['b']}"
        rows.append((label, r["rate"], r["ci"]))
        if r["rate"] is not None:
            words.append(f"{label}: {_pct(r['rate'])}{_ci_words(r['ci'], _pct)}")
    return interval_chart(
        chart_id="chart-win-rates",
        title="Win rates: share preferring A over B",
        desc="Dots are win rates, whiskers 95% bootstrap intervals over groups, the dashed line "
        "50% (no preference). " + ("; ".join(words) or "No comparisons yet."),
        rows=rows,
        domain=(0.0, 1.0),
        ticks=[0, 0.25, 0.5, 0.75, 1],
        axis_label="Share of members preferring A (ties half)",
        reference=0.5,
        reference_label="50%",
        fmt=_pct,
    )


def exclusion_chart(result: dict[str, Any]) -> str:
    rows, words = [], []
    for r in result["exclusion"]:
        label = f"{r['condition']} · it {r['iteration_index']}"
        rows.append((label, r["included_mean"], r["excluded_mean"]))
        words.append(f"{label}: included {r['included_mean']}, excluded {r['excluded_mean']}, "
                     f"difference {r['difference']}{_ci_words(r['ci'], lambda v: f'{v:g}')}")  # fmt: skip
    return paired_chart(
        chart_id="chart-exclusion",
        title="Agreement with the winner: included vs excluded members",
        desc="; ".join(words) or "No exclusion condition.",
        rows=rows,
        series=("Included", "Excluded"),
    )


def positions_chart(result: dict[str, Any]) -> str:
    rows, words = [], []
    for r in result["positions"]:
        rows.append((f"{r['condition']} · agreement", r["before"], r["after"]))
        rows.append((f"{r['condition']} · spread (ours)", r["spread_before"], r["spread_after"]))
        words.append(f"{r['condition']}: agreement {r['before']} before, {r['after']} after; "
                     f"spread {r['spread_before']} before, {r['spread_after']} after")  # fmt: skip
    return paired_chart(
        chart_id="chart-positions",
        title="Positions before and after the round",
        desc="; ".join(words) or "No position ratings.",
        rows=rows,
        series=("Before", "After"),
        domain=(0, 7),
        axis_label="Agreement with the position statement (1-7); spread (0-6)",
    )


def calibration_chart(result: dict[str, Any]) -> str:
    """Mean observed against mean predicted agreement per bin, one series per condition and
    split, with the diagonal of perfect calibration."""
    size, left, top = 340, 60, TOP
    scale_x = _linear(1, 7, left, left + size)
    scale_y = _linear(1, 7, top + size, top)
    body = [f'<line x1="{scale_x(1):.1f}" y1="{scale_y(1):.1f}" x2="{scale_x(7):.1f}" '
            f'y2="{scale_y(7):.1f}" stroke="#888" stroke-dasharray="4 3"/>']  # fmt: skip
    for t in range(1, 8):
        body.append(f'<text x="{scale_x(t):.1f}" y="{top + size + 18}" text-anchor="middle">'
                    f"{t}</text>")  # fmt: skip
        body.append(f'<text x="{left - 8}" y="{scale_y(t) + 4:.1f}" text-anchor="end">{t}</text>')
    body.append(f'<line x1="{left}" y1="{top + size}" x2="{left + size}" y2="{top + size}" '
                'stroke="#444"/>')  # fmt: skip
    body.append(f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + size}" stroke="#444"/>')
    body.append(f'<text x="{left + size / 2}" y="{top + size + 36}" text-anchor="middle">'
                "Mean predicted agreement</text>")  # fmt: skip
    body.append(f'<text x="14" y="{top + size / 2}" text-anchor="middle" '
                f'transform="rotate(-90 14 {top + size / 2})">Mean observed agreement</text>')  # fmt: skip
    words = []
    for i, row in enumerate(result["calibration"]["rows"]):
        colour, shape = COLOURS[i % len(COLOURS)], MARKERS[i % len(MARKERS)]
        name = f"{row['condition']} · {row['split']}"
        points = [b for b in row["bins"] if b["pairs"]]
        for b in points:
            body.append(_marker(shape, scale_x(b["mean_predicted"]), scale_y(b["mean_observed"]),
                                colour))  # fmt: skip
        legend_y = top + 14 + 20 * i
        body.append(_marker(shape, left + size + 30, legend_y - 4, colour))
        body.append(f'<text x="{left + size + 42}" y="{legend_y}">{escape(name)} (MAE '
                    f"{row['mae']})</text>")  # fmt: skip
        words.append(f"{name}: MAE {row['mae']}; " + ", ".join(
            f"predicted {b['mean_predicted']} observed {b['mean_observed']}" for b in points))  # fmt: skip
    height = top + size + BOTTOM + 10
    return _svg(
        "chart-calibration",
        "Reward-model calibration: observed vs predicted agreement",
        "Each marker is a bin of predictions; on the dashed diagonal the model is calibrated. "
        + ("; ".join(words) or "No rated statement has a prediction."),
        height,
        body,
    )


CHARTS = {
    "win_rates": win_rates_chart,
    "exclusion": exclusion_chart,
    "positions": positions_chart,
    "calibration": calibration_chart,
}
