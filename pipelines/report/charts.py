"""Charts of the report: Vega-Lite specifications built with altair, rendered offline to inline SVG by vl-convert.

No script and no network: vl-convert embeds the Vega engine and measures text with the
system's fonts, so Chinese labels are laid out as the browser will draw them.
"""

from __future__ import annotations

import altair as alt
import pandas as pd
import vl_convert

from pipelines.report.texts import name, rule_text

FONT = "WenQuanYi Micro Hei, Noto Sans CJK SC, sans-serif"
SEVERITY_COLORS = {"error": "#c62828", "warning": "#ef6c00"}
STATUS_COLORS = {"published": "#2e7d32", "published_partial": "#9ccc65", "quarantined": "#c62828", "rejected": "#8d6e63"}


def to_svg(chart: alt.TopLevelMixin) -> str:
    """The chart as an SVG string (rendered offline)."""
    spec = chart.configure(font=FONT).configure_view(stroke=None).to_dict()
    return vl_convert.vegalite_to_svg(spec)


def _empty(text: str) -> str:
    return f"<p class='muted'>{text}</p>"


def status_by_year(frame: pd.DataFrame) -> str:
    """Stacked bars: documents per report year by status."""
    if frame.empty:
        return _empty("没有文件")
    order = list(STATUS_COLORS)
    data = frame.assign(状态=[name("reports.status", s) for s in frame.status], 年度=frame.year, 文件数=frame.n,
                        _order=[order.index(s) if s in order else len(order) for s in frame.status])
    chart = alt.Chart(data, title="各年度报告的处理结果").mark_bar().encode(
        x=alt.X("年度:O", title="报告年度", axis=alt.Axis(labelAngle=0)),
        y=alt.Y("文件数:Q", title="文件数", axis=alt.Axis(tickMinStep=1)),
        color=alt.Color("状态:N", scale=alt.Scale(domain=[name("reports.status", s) for s in order], range=list(STATUS_COLORS.values())),
                        legend=alt.Legend(title="状态", orient="bottom", columns=2)),
        order=alt.Order("_order:Q"),
        tooltip=["年度", "状态", "文件数"],
    ).properties(width=max(240, 34 * data.年度.nunique()), height=180)
    return to_svg(chart)


def failures_by_rule(frame: pd.DataFrame, top: int = 25) -> str:
    """Horizontal bars: failed instances per rule (Chinese title), coloured by severity; the ``top`` rules."""
    data = frame[frame.failed > 0].head(top)
    if data.empty:
        return _empty("没有不符的规则")
    data = data.assign(问题=[rule_text(r).title for r in data.rule_id], 规则编号=data.rule_id,
                       严重程度=[name("rule_results.severity", s) for s in data.severity], 不符次数=data.failed, 涉及报告=data.reports)
    sev = [name("rule_results.severity", s) for s in SEVERITY_COLORS]
    chart = alt.Chart(data, title="按规则统计的不符（次数）").mark_bar().encode(
        x=alt.X("不符次数:Q", title="不符次数", axis=alt.Axis(tickMinStep=1)),
        y=alt.Y("问题:N", sort=list(data.问题), title=None, axis=alt.Axis(labelLimit=420)),
        color=alt.Color("严重程度:N", scale=alt.Scale(domain=sev, range=list(SEVERITY_COLORS.values())),
                        legend=alt.Legend(title="严重程度", orient="bottom")),
        tooltip=["问题", "规则编号", "严重程度", "不符次数", "涉及报告"],
    ).properties(width=320, height=alt.Step(18))
    return to_svg(chart)


def failures_by_body_year(frame: pd.DataFrame) -> str:
    """Heat map: failed instances per body (the bodies with most failures) and report year."""
    if frame.empty:
        return _empty("没有不符的规则")
    data = frame.rename(columns={"name": "单位", "year": "年度", "n": "不符次数"})
    base = alt.Chart(data, title="问题较多的单位（按年度）").encode(
        x=alt.X("年度:O", title="报告年度", axis=alt.Axis(labelAngle=0, orient="top")),
        y=alt.Y("单位:N", title=None, axis=alt.Axis(labelLimit=300)),
    )
    cells = base.mark_rect().encode(
        color=alt.Color("不符次数:Q", scale=alt.Scale(scheme="oranges"), legend=alt.Legend(title="不符次数")),
        tooltip=["单位", "年度", "不符次数"],
    )
    labels = base.mark_text(fontSize=11).encode(text="不符次数:Q")
    return to_svg((cells + labels).properties(width=alt.Step(44), height=alt.Step(20)))
