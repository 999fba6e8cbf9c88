"""The report's charts, drawn by matplotlib from oilnews.report.data: each a function of the
data returning a Figure (None when there is nothing to draw), so the page and the tests share them.
Every text on a chart comes from pages and is drawn literally (no mathtext)."""

from __future__ import annotations

import io
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from oilnews.dates import utc_from_db
from oilnews.report.data import ReportData
from oilnews.site import price_unit

TOP = 10  # authors, sources, sections shown by name (the rest are "other")
LEGEND_OUTSIDE = {"loc": "upper left", "bbox_to_anchor": (1.01, 1.0), "fontsize": 7, "frameon": False}


def _figure(height: float = 3.6) -> Any:
    import matplotlib

    matplotlib.use("Agg")  # no display; SVG out
    matplotlib.rcParams["svg.fonttype"] = "path"  # text as outlines: no font to load
    matplotlib.rcParams["svg.hashsalt"] = "oilnews"  # stable ids: the same data, the same page
    # Labels come from pages (author names, sources, sections): `$...$` in one is text, never
    # mathtext, which would fail on `$\\notacommand$` and could render anything.
    matplotlib.rcParams["text.parse_math"] = False
    from matplotlib.figure import Figure

    return Figure(figsize=(11, height), layout="constrained")


def _time_axis(ax: Any, instants: list[datetime], least: timedelta = timedelta(hours=2)) -> None:
    """Dates as a person reads them (ConciseDateFormatter), over at least `least`: a single
    run or quote would otherwise get an axis of years."""
    import matplotlib.dates

    mdates: Any = matplotlib.dates  # its classes are untyped
    locator = mdates.AutoDateLocator()
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    if instants and max(instants) - min(instants) < least:
        middle = min(instants) + (max(instants) - min(instants)) / 2
        ax.set_xlim(middle - least / 2, middle + least / 2)


def svg(figure: Any) -> str:
    out = io.StringIO()
    figure.savefig(out, format="svg", metadata={"Date": None})
    text: str = out.getvalue()
    return text[text.index("<svg") :]  # inline: drop the XML declaration and doctype


def figure_articles_per_day(data: ReportData) -> Any:
    if not data.articles_per_day:
        return None
    days = sorted({d for counts in data.articles_per_day.values() for d in counts})
    totals = Counter({s: sum(c.values()) for s, c in data.articles_per_day.items()})
    shown = [s for s, _ in totals.most_common(TOP)]
    figure = _figure()
    ax = figure.add_subplot()
    bottom = [0] * len(days)
    bars = None
    for section in shown:
        values = [data.articles_per_day[section].get(d, 0) for d in days]
        bars = ax.bar(days, values, bottom=bottom, label=f"{section} ({totals[section]})", width=0.8)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    if bars is not None and len(days) <= 45:  # each day's total on its bar, while they fit
        ax.bar_label(bars, labels=[str(n) for n in bottom], fontsize=6, padding=1)
    ax.set_ylabel("articles published")
    ax.legend(title="section (articles)", title_fontsize=7, **LEGEND_OUTSIDE)
    _time_axis(ax, [datetime(d.year, d.month, d.day) for d in days], least=timedelta(days=7))
    return figure


def figure_authors_sources(data: ReportData) -> Any:
    if not data.authors and not data.sources:
        return None
    figure = _figure(4.2)
    for position, (title, counts) in enumerate(
        (("Top authors", data.authors), ("Top sources", data.sources)), 1
    ):
        ax = figure.add_subplot(1, 2, position)
        top = counts.most_common(TOP)[::-1]
        bars = ax.barh(
            [name for name, _ in top], [n for _, n in top], color="#2b6cb0" if position == 1 else "#c05621"
        )
        ax.bar_label(bars, fontsize=7, padding=2)  # the count at each bar's end
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("articles")
        ax.margins(x=0.15)  # room for the labels
        ax.tick_params(axis="y", labelsize=7)
    return figure


def figure_runs(data: ReportData) -> Any:
    if not data.runs:
        return None
    figure = _figure(4.4)
    top, bottom = figure.subplots(2, 1, sharex=True)
    starts: list[datetime] = [utc_from_db(r.started_at) for r in data.runs]  # type: ignore[misc]
    durations = [
        ((utc_from_db(r.finished_at) - utc_from_db(r.started_at)).total_seconds() if r.finished_at else 0.0)  # type: ignore[operator]
        for r in data.runs
    ]
    top.plot(starts, durations, marker="o", color="#2b6cb0", label="duration")
    bad = [(s, d, r) for s, d, r in zip(starts, durations, data.runs, strict=True) if r.status != "finished"]
    if bad:
        top.scatter(
            [s for s, _, _ in bad],
            [d for _, d, _ in bad],
            color="#c53030",
            zorder=3,
            s=60,
            label="not healthy",
        )
        for s, d, r in bad:
            reason = "; ".join((r.health or {}).get("failures") or [r.finish_reason or r.status])
            top.annotate(
                reason[:60], (s, d), fontsize=6, color="#c53030", xytext=(4, 6), textcoords="offset points"
            )
    top.set_ylabel("seconds")
    top.legend(**LEGEND_OUTSIDE)
    counts = [r.counts or {} for r in data.runs]
    bottom.plot(starts, [c.get("articles_new", 0) for c in counts], marker=".", label="new articles")
    bottom.plot(starts, [c.get("articles_updated", 0) for c in counts], marker=".", label="updated")
    bottom.plot(starts, [c.get("errors", 0) for c in counts], marker=".", color="#c53030", label="errors")
    bottom.set_ylabel("per run")
    bottom.legend(**LEGEND_OUTSIDE)
    _time_axis(bottom, starts)
    return figure


def figure_prices(data: ReportData) -> Any:
    """One panel a unit (a barrel, a gallon, a million BTU never share an axis), a line a blend;
    a blend with a single quote is a point with its price written beside it."""
    if not data.prices:
        return None
    units: dict[str, list[str]] = {}
    for name in sorted(data.prices):
        units.setdefault(price_unit(name), []).append(name)
    figure = _figure(1.6 + 1.9 * len(units))
    axes = figure.subplots(len(units), 1, sharex=True, squeeze=False)[:, 0]
    instants = [p[0] for points in data.prices.values() for p in points]
    for ax, (unit, names) in zip(axes, sorted(units.items()), strict=True):
        for name in names:
            points = data.prices[name]
            (line,) = ax.plot(
                [p[0] for p in points],
                [p[1] for p in points],
                marker="." if len(points) < 50 else None,
                label=name,
            )
            if len(points) == 1:
                ax.annotate(
                    f"{points[0][1]:g}",
                    (points[0][0], points[0][1]),
                    fontsize=6,
                    xytext=(4, 0),
                    textcoords="offset points",
                    color=line.get_color(),
                )
        ax.set_ylabel(unit)
        ax.legend(**LEGEND_OUTSIDE)
    _time_axis(axes[-1], instants)
    return figure


def figure_mentions(data: ReportData) -> Any:
    """The commodities, countries and companies most articles mention, a panel each."""
    if not any(data.mentions.values()):
        return None
    figure = _figure(4.2)
    colours = ("#2f855a", "#2b6cb0", "#9b2c2c")
    for position, (kind, colour) in enumerate(zip(data.mentions, colours, strict=False), 1):
        ax = figure.add_subplot(1, len(data.mentions), position)
        top = data.mentions[kind].most_common(TOP)[::-1]
        if top:
            bars = ax.barh([name for name, _ in top], [n for _, n in top], color=colour)
            ax.bar_label(bars, fontsize=7, padding=2)
        ax.set_title(kind.capitalize(), fontsize=10)
        ax.set_xlabel("articles")
        ax.margins(x=0.2)
        ax.tick_params(axis="y", labelsize=7)
    return figure


# The page's chart ids (HTML anchors the tests look for), in the order of CHARTS.
CHART_IDS = ("articles-per-day", "authors-sources", "crawl-runs", "prices", "mentions")
CHARTS = (figure_articles_per_day, figure_authors_sources, figure_runs, figure_prices, figure_mentions)
