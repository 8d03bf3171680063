"""Dashboard charts as server-side SVG (pygal), styled for the console and with Chinese-capable fonts."""

from __future__ import annotations

import math
import re

import pygal
from markupsafe import Markup
from pygal.style import Style

FONT = "'Noto Sans CJK SC', 'Noto Sans SC', 'Source Han Sans SC', 'Microsoft YaHei', sans-serif"
PALETTE = ("#2f6fdf", "#e8833a", "#2ca58d", "#c94c7c", "#8a63d2", "#6c757d", "#d4a72c")

CONSOLE_STYLE = Style(
    background="transparent",
    plot_background="transparent",
    foreground="#334155",
    foreground_strong="#0f172a",
    foreground_subtle="#94a3b8",
    colors=PALETTE,
    font_family=FONT,
    label_font_family=FONT,
    major_label_font_family=FONT,
    value_font_family=FONT,
    value_label_font_family=FONT,
    tooltip_font_family=FONT,
    title_font_family=FONT,
    legend_font_family=FONT,
    no_data_font_family=FONT,
    # big enough to read when a chart is scaled down to a phone's width
    label_font_size=17,
    major_label_font_size=17,
    legend_font_size=17,
    value_font_size=16,
    value_label_font_size=16,
    tooltip_font_size=16,
    title_font_size=20,
    no_data_font_size=22,
    guide_stroke_color="#e2e8f0",
    major_guide_stroke_color="#cbd5e1",
)
COMMON = dict(
    style=CONSOLE_STYLE,
    js=[],  # no scripts from the internet; the SVG works without them
    disable_xml_declaration=True,
    margin=12,
    margin_bottom=32,  # room for the legend's descenders at the larger font
    legend_at_bottom=True,
    legend_at_bottom_columns=3,
    show_y_guides=True,
    truncate_label=-1,
)
WIDE, NARROW = {"width": 540, "height": 360}, {"width": 400, "height": 400}  # ~ their width on a desk
LABELLED_DAYS = 8  # at most this many day labels under a chart, whatever the range


def nice_step(span: int, ticks: int = 5) -> int:
    """The round step (1, 2 or 5 × 10ⁿ, at least 1) dividing ``span`` into at most about ``ticks`` parts."""
    rough = max(1, math.ceil(span / ticks))
    magnitude = 10 ** (len(str(rough)) - 1)
    return next(factor * magnitude for factor in (1, 2, 5, 10) if factor * magnitude >= rough)


def round_ticks(values: list[int], unit: int = 1) -> list[int]:
    """Round axis labels from 0 (or the lowest value) to just above the highest.

    ``unit``: the smallest step (100 for amounts in fen, so the axis reads ¥100, ¥200 ... not ¥137.50).
    """
    low, high = min([*values, 0]), max([*values, 0])
    if low == high:
        high = unit
    step = nice_step(math.ceil((high - low) / unit)) * unit
    return list(range(math.floor(low / step) * step, math.ceil(high / step) * step + step, step))


def major_every(labels: list[str], size: dict = WIDE) -> int:
    """Label every n-th day so that the labels fit (LABELLED_DAYS on a wide chart, fewer on a narrow one)."""
    fitting = LABELLED_DAYS * size["width"] // WIDE["width"]
    return max(1, math.ceil(len(labels) / max(fitting, 1)))


_SCRIPT = re.compile(r"<script\b.*?</script>", re.DOTALL)


def _svg(chart) -> Markup:
    """The chart as inline SVG markup (pygal escapes every text it writes).

    pygal adds a script with its tooltip settings even without its JavaScript; it is dropped so the
    console can forbid scripts in its Content-Security-Policy.
    """
    return Markup(_SCRIPT.sub("", chart.render(is_unicode=True)))


def daily_bars(
    title: str,
    labels: list[str],
    series: dict[str, list],
    formatter=None,
    no_data: str = "",
    size: dict = WIDE,
    unit: int = 1,
) -> Markup:
    """Daily whole-number values (counts, or fen with ``unit=100``) as bars on round axis ticks."""
    ticks = round_ticks([v for values in series.values() for v in values], unit)
    chart = pygal.Bar(
        title=title,
        x_labels=labels,
        x_labels_major_every=major_every(labels, size),
        show_minor_x_labels=False,
        y_labels=ticks,
        value_formatter=formatter or str,
        no_data_text=no_data,
        show_legend=len(series) > 1,
        **size,
        **COMMON,
    )
    for name, values in series.items():
        chart.add(name, values)
    return _svg(chart)


def daily_lines(title: str, labels: list[str], series: dict[str, list], formatter=None, no_data: str = "") -> Markup:
    """Daily whole-number values as lines (e.g. points granted against points redeemed)."""
    chart = pygal.Line(
        title=title,
        x_labels=labels,
        x_labels_major_every=major_every(labels),
        show_minor_x_labels=False,
        value_formatter=formatter or str,
        no_data_text=no_data,
        dots_size=2.5,
        fill=False,
        y_labels=round_ticks([v for values in series.values() for v in values]),
        **WIDE,
        **COMMON,
    )
    for name, values in series.items():
        chart.add(name, values)
    return _svg(chart)


def ranking(title: str, rows: list[tuple[str, int]], formatter=None, no_data: str = "") -> Markup:
    """Named totals as horizontal bars, largest on top, with their values printed.

    The names are in the legend under the chart, one a line and in full (as axis labels, long Chinese
    names would be cut or squeeze the bars: pygal measures text as if every character were narrow).
    """
    top = max((value for _, value in rows), default=0)
    chart = pygal.HorizontalBar(
        title=title,
        value_formatter=formatter or str,
        no_data_text=no_data,
        print_values=True,
        print_values_position="top",
        range=(0, top * 1.3 or 1),  # room right of the longest bar for its printed value
        show_x_labels=False,  # (horizontal: the value axis) the values are printed on the bars
        show_y_labels=False,
        **{**NARROW, "height": NARROW["height"] + 30 * max(len(rows) - 3, 0)},
        **{**COMMON, "legend_at_bottom_columns": 1, "truncate_legend": -1},
    )
    for name, value in rows:
        chart.add(name, [value])
    return _svg(chart)


def shares(title: str, rows: list[tuple[str, int]], no_data: str = "") -> Markup:
    """Parts of a whole as a donut with the counts in the legend."""
    chart = pygal.Pie(title=title, inner_radius=0.45, no_data_text=no_data, print_values=True, **NARROW, **COMMON)
    for name, value in rows:
        chart.add(f"{name} ({value})", value)
    return _svg(chart)


def rate_chart(
    title: str, labels: list[str], series: dict[str, list], lines: bool = False, no_data: str = ""
) -> Markup:
    """Rates in basis points (None: not known yet, left out) as grouped bars, or as lines, on a percent axis."""
    known = [value for values in series.values() for value in values if value is not None]
    ticks = round_ticks(known, 1_000) if known else [0, 10_000]  # steps of whole 10 %, or finer when small
    chart = (pygal.Line if lines else pygal.Bar)(
        title=title,
        x_labels=labels,
        x_labels_major_every=major_every(labels),
        show_minor_x_labels=False,
        y_labels=ticks,
        value_formatter=lambda value: f"{round(value) / 100:g}%",
        no_data_text=no_data,
        show_legend=True,
        **({"dots_size": 3, "fill": False} if lines else {}),
        **WIDE,
        # long Chinese names need a column each of half the width (pygal measures them as if narrow); lines
        # end on the last label, which needs room on the right
        **{
            **COMMON,
            "legend_at_bottom_columns": 2 if max(map(len, series), default=0) > 6 else 3,
            "margin_right": 36 if lines else COMMON["margin"],
        },
    )
    for name, values in series.items():
        chart.add(name, values)
    return _svg(chart)
