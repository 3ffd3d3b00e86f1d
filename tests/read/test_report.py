"""`parquet-logger report`: the real command writes one self-contained HTML file, which a
real headless Chromium renders without errors or network requests, plots drawn."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from parquet_logger.read import events
from parquet_logger.read.report import build_report
from tests.read.chromium import BINARY, Chromium
from tests.read.workload import PRICED_MODEL, UNPRICED_MODEL

needs_chromium = pytest.mark.skipif(
    not os.path.exists(BINARY), reason="chromium is not installed (apt-get install chromium)"
)


@pytest.fixture
def browser(tmp_path):
    """A headless Chromium with a fresh profile; its processes end at teardown."""
    chrome = Chromium(tmp_path / "chromium-profile")
    yield chrome
    chrome.close()


def report_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "parquet_logger.cli", "report", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_report_figures(logged):
    """The totals, the per-model table and the failed custom ids match the logged runs."""
    data, html = build_report(logged)
    assert data.totals.events == len(events(logged))
    assert data.totals.llm_calls == 4
    assert data.totals.errors == 1  # the failed call, not the chain around it as well
    assert data.totals.input_tokens == 1000 + 50
    assert data.totals.events_dropped == 0
    models = {m.model: m for m in data.models}
    assert models[PRICED_MODEL].cost_usd is not None
    assert models[UNPRICED_MODEL].cost_usd is None
    assert data.unpriced == [UNPRICED_MODEL]
    assert [row[0] for row in data.failed_ids] == ["q3"]
    assert "<script" not in html
    assert "http://" not in html
    assert "https://" not in html


def test_bad_usage_and_missing_source(tmp_path):
    """No source: exit code 2; a directory that does not exist: 1 with a one-line reason."""
    assert report_cli().returncode == 2
    missing = report_cli(str(tmp_path / "nowhere"), "-o", str(tmp_path / "r.html"))
    assert missing.returncode == 1
    assert "does not exist" in missing.stderr
    assert not (tmp_path / "r.html").exists()


@needs_chromium
def test_report_renders_in_chromium(logged, browser, tmp_path):
    """The page loads offline with no console error and no request beyond the file itself;
    every chart is drawn; a screenshot is kept (report.png in the test's tmp_path)."""
    out = tmp_path / "report.html"
    done = report_cli(str(logged), "-o", str(out))
    assert done.returncode == 0, done.stderr
    url = out.resolve().as_uri()
    browser.open(url)
    assert browser.problems() == []
    assert set(browser.requested_urls()) <= {url}
    assert browser.evaluate("document.scripts.length") == 0
    charts = browser.evaluate(
        "[...document.querySelectorAll('svg.chart')].map(s => [s.getAttribute('aria-label'), "
        "Math.round(s.getBoundingClientRect().width), s.querySelectorAll('.series *').length])"
    )
    labels = [label for label, _, _ in charts]
    assert any(label.startswith("tokens per") for label in labels)
    assert any(label.startswith("cost per") for label in labels)
    assert "latency per model" in labels
    assert "errors by type" in labels
    assert sum(label.startswith("trace ") for label in labels) == 5
    for label, width, marks in charts:
        assert width > 300, label
        assert marks > 0, label
    note = browser.evaluate("document.querySelector('.note').innerText")
    assert UNPRICED_MODEL in note
    shot = tmp_path / "report.png"
    browser.screenshot(shot)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 20_000
    print(f"report screenshot: {shot}")  # noqa: T201 - the artifact's path, shown with -s
