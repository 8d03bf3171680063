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
    label_font_size=12,
    major_label_font_size=12,
    legend_font_size=13,
    value_font_size=12,
    title_font_size=15,
    no_data_font_size=20,
    guide_stroke_color="#e2e8f0",
    major_guide_stroke_color="#cbd5e1",
)
COMMON = dict(
    style=CONSOLE_STYLE,
    js=[],  # no scripts from the internet; the SVG works without them
    disable_xml_declaration=True,
    margin=12,
    margin_bottom=20,
    legend_at_bottom=True,
    legend_at_bottom_columns=3,
    show_y_guides=True,
    truncate_label=-1,
)
WIDE, NARROW = {"width": 720, "height": 330}, {"width": 460, "height": 360}


def integer_ticks(values: list[int]) -> list[int]:
    """Whole-number axis labels for counts (pygal would label 0.1, 0.2 ... for small counts)."""
    top = max([*values, 1])
    step = max(1, math.ceil(top / 5))
    return list(range(0, top + step, step))


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
    counts: bool = False,
    size: dict = WIDE,
) -> Markup:
    """Daily values as bars, one series per entry, every 5th day labelled (``counts``: whole-number axis)."""
    if counts:
        size = {**size, "y_labels": integer_ticks([v for values in series.values() for v in values])}
    chart = pygal.Bar(
        title=title,
        x_labels=labels,
        x_labels_major_every=5,
        show_minor_x_labels=False,
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
        x_labels_major_every=5,
        show_minor_x_labels=False,
        value_formatter=formatter or str,
        no_data_text=no_data,
        dots_size=2.5,
        fill=False,
        y_labels=integer_ticks([v for values in series.values() for v in values]),
        **WIDE,
        **COMMON,
    )
    for name, values in series.items():
        chart.add(name, values)
    return _svg(chart)


def ranking(title: str, rows: list[tuple[str, int]], formatter=None, no_data: str = "") -> Markup:
    """Named totals as horizontal bars, largest on top, with their values printed."""
    chart = pygal.HorizontalBar(
        title=title,
        value_formatter=formatter or str,
        no_data_text=no_data,
        print_values=True,
        print_values_position="top",
        show_legend=False,
        show_x_labels=False,  # (horizontal: the value axis) the values are printed on the bars
        **NARROW,
        **COMMON,
    )
    chart.x_labels = [name for name, _ in reversed(rows)]
    if rows:
        chart.add(title, [value for _, value in reversed(rows)])
    return _svg(chart)


def shares(title: str, rows: list[tuple[str, int]], no_data: str = "") -> Markup:
    """Parts of a whole as a donut with the counts in the legend."""
    chart = pygal.Pie(title=title, inner_radius=0.45, no_data_text=no_data, print_values=True, **NARROW, **COMMON)
    for name, value in rows:
        chart.add(f"{name} ({value})", value)
    return _svg(chart)
