"""The HTML report of a profile: self-contained, escaped, pictures first, size fixed by columns."""

from __future__ import annotations

import datetime as dt
import json
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import plotly.offline
import pyarrow as pa
import pytest

from loopml.data.profile_report import profile_html, save_profile_html
from loopml.data.profiling import DatasetProfile, profile_table

PLOTLY_JS = plotly.offline.get_plotlyjs()
VOID = {"meta", "br", "img", "input", "link", "hr", "col", "source", "wbr"}
NASTY_NAME = '<script>alert("name")</script> & "quotes"'
NASTY_VALUE = "<img src=x onerror=alert(1)>"


class Page(HTMLParser):
    """What a browser would see: text, scripts, chart slots, and whether tags nest."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.texts: list[str] = []
        self.scripts: list[dict[str, Any]] = []
        self.links: list[str] = []
        self.order: list[str] = []  # "chart:<id>", "table", "section:<id>" as they appear
        self.feed(text)
        self.close()
        if self.stack:
            self.errors.append(f"unclosed: {self.stack}")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "script":
            self.scripts.append({"attrs": attributes, "text": ""})
        if tag == "link" and attributes.get("href"):
            self.links.append(attributes["href"] or "")
        if "data-chart" in attributes:
            self.order.append(f"chart:{attributes['data-chart']}")
        if tag == "table":
            self.order.append("table")
        if tag == "section":
            self.order.append(f"section:{attributes.get('id')}")
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
            return
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        if self.stack and self.stack[-1] == "script":
            self.scripts[-1]["text"] += data
        elif not self.stack or self.stack[-1] != "style":
            self.texts.append(data)

    @property
    def text(self) -> str:
        return " ".join(self.texts)

    def charts(self) -> dict[str, Any]:
        (spec,) = [s for s in self.scripts if s["attrs"].get("id") == "loopml-charts"]
        return json.loads(spec["text"], parse_constant=_refuse)


def _refuse(constant: str) -> None:
    raise AssertionError(f"{constant} in chart JSON: JSON.parse would fail")


def mixed_table(rows: int, seed: int = 0) -> pa.Table:
    rng = np.random.default_rng(seed)
    start = np.datetime64("2024-01-01", "s").astype(np.int64)
    return pa.table(
        {
            "amount": rng.lognormal(size=rows),
            "visits": rng.integers(0, 1_000, size=rows),
            "plan": rng.choice(["free", "pro", "team", NASTY_VALUE], size=rows),
            "email": pa.array(rng.integers(0, 1 << 40, size=rows)).cast(pa.string()),
            "active": rng.random(rows) < 0.4,
            "seen": pa.array(start + rng.integers(0, 10**7, size=rows), pa.timestamp("s")),
            NASTY_NAME: pa.array(np.where(rng.random(rows) < 0.3, np.nan, rng.normal(size=rows))),
            "tags": pa.array([[1]] * rows, pa.list_(pa.int64())),
        }
    )


@pytest.fixture(scope="module")
def profile() -> DatasetProfile:
    return profile_table(mixed_table(2_000))


@pytest.fixture(scope="module")
def report(profile: DatasetProfile) -> str:
    return profile_html(profile, title="Customers <2024>")


def test_the_report_is_well_formed_html(report: str) -> None:
    page = Page(report)
    assert page.errors == []
    assert report.startswith("<!DOCTYPE html>")


def test_the_report_works_offline_with_plotly_inlined_once(report: str) -> None:
    page = Page(report)
    sources = [s["attrs"]["src"] for s in page.scripts if s["attrs"].get("src")]
    assert sources == []  # no CDN, nothing fetched
    assert not [link for link in page.links if link.startswith(("http:", "https:", "//"))]
    assert report.count(PLOTLY_JS) == 1
    assert report.count("plotly.js v") == 1


def test_every_chart_slot_has_a_spec_and_every_column_a_section(
    report: str, profile: DatasetProfile
) -> None:
    page = Page(report)
    charts = page.charts()
    slots = [item.split(":", 1)[1] for item in page.order if item.startswith("chart:")]
    assert sorted(slots) == sorted(charts)
    assert "overview" in charts
    sections = [item for item in page.order if item.startswith("section:column-")]
    assert len(sections) == len(profile.columns)
    for name in profile.columns:
        assert name in page.text


def test_numeric_columns_get_a_histogram_and_categoricals_their_top_values(
    report: str, profile: DatasetProfile
) -> None:
    charts = Page(report).charts()
    names = list(profile.columns)
    amount = charts[f"column-{names.index('amount')}"]["data"][0]
    assert sum(amount["y"]) == profile.columns["amount"].count
    plan = charts[f"column-{names.index('plan')}"]["data"][0]
    assert plan["orientation"] == "h"
    assert sum(plan["x"]) == profile.columns["plan"].count
    seen = charts[f"column-{names.index('seen')}"]
    assert seen["layout"]["xaxis"]["type"] == "date"
    assert seen["data"][0]["x"][0].startswith("2024-01-")
    assert f"column-{names.index('tags')}" not in charts  # "other": numbers only


def test_pictures_come_before_the_numbers(report: str) -> None:
    order = Page(report).order
    assert order.index("chart:overview") < order.index("section:column-0")
    for index in range(6):  # the columns with a chart
        section = order.index(f"section:column-{index}")
        assert order[section + 1] == f"chart:column-{index}"
        assert order[section + 2] == "table"


def test_names_values_and_title_are_escaped(report: str) -> None:
    assert NASTY_NAME not in report
    assert NASTY_VALUE not in report
    assert "<2024>" not in report
    page = Page(report)
    assert NASTY_NAME in page.text
    assert NASTY_VALUE in page.text
    assert "Customers <2024>" in page.text
    executable = [s["text"] for s in page.scripts if s["attrs"].get("type") != "application/json"]
    assert not any("alert(" in text for text in executable)
    labels = Page(report).charts()["column-2"]["data"][0]["y"]
    assert "&lt;img src=x onerror=alert(1)&gt;" in labels  # Plotly shows entities as text


def test_report_size_depends_on_columns_not_rows() -> None:
    small = profile_html(profile_table(mixed_table(1_000)))
    large = profile_html(profile_table(mixed_table(1_000_000)))
    assert abs(len(large) - len(small)) < 0.02 * (len(small) - len(PLOTLY_JS))
    assert len(large.encode()) < 5_000_000 + len(PLOTLY_JS.encode())


def test_many_columns_stay_small() -> None:
    table = pa.table({f"feature_{i}": np.arange(100, dtype=np.float64) * i for i in range(300)})
    report = profile_html(profile_table(table))
    assert Page(report).errors == []
    assert len(report) - len(PLOTLY_JS) < 5_000_000


@pytest.mark.parametrize(
    "table",
    [
        pa.table({"amount": pa.array([], pa.float64()), "plan": pa.array([], pa.string())}),
        pa.table({"amount": pa.array([None, None], pa.float64())}),
        pa.table({"only": pa.array([3.0] * 10), "day": pa.array([dt.date(2024, 1, 1)] * 10)}),
    ],
    ids=["no rows", "all null", "one value"],
)
def test_degenerate_tables_render(table: pa.Table) -> None:
    report = profile_html(profile_table(table))
    page = Page(report)
    assert page.errors == []
    page.charts()
    for name in table.column_names:
        assert name in page.text


def test_a_profile_without_columns_renders() -> None:
    page = Page(profile_html(profile_table([])))
    assert page.errors == []
    assert page.charts() == {}


def test_save_html_writes_the_report(tmp_path: Path, profile: DatasetProfile) -> None:
    profile.save_html(tmp_path / "profile.html", title="Saved")
    text = (tmp_path / "profile.html").read_text(encoding="utf-8")
    assert "<title>Saved</title>" in text
    assert Page(text).errors == []
    save_profile_html(profile, tmp_path / "again.html")
    assert (tmp_path / "again.html").read_text(encoding="utf-8") == profile.to_html()
