"""The report file: self-contained, hostile text inert, candidate data intact, only our scripts allowed."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import re
import sqlite3
from html.parser import HTMLParser
from pathlib import Path

import pytest
from report_runs import XSS, llm_report

REPORT_JS = Path(__file__).parent.parent / "evolve" / "html_report" / "static" / "report.js"


class Elements(HTMLParser):
    """Every element's tag and attributes, and the text inside each <script>."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.scripts: list[tuple[dict, str]] = []
        self._script: dict | None = None

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag == "script":
            self._script = dict(attrs)
            self.scripts.append((self._script, ""))

    def handle_data(self, data):
        if self._script is not None:
            attrs, text = self.scripts[-1]
            self.scripts[-1] = (attrs, text + data)

    def handle_endtag(self, tag):
        if tag == "script":
            self._script = None


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out, runs = llm_report(tmp_path_factory)
    page = Elements()
    text = out.read_text(encoding="utf-8")
    page.feed(text)
    return text, page, sqlite3.connect(runs / "llm" / "evolve.db")


def test_the_file_needs_nothing_from_outside(report):
    text, page, _ = report
    for tag, attrs in page.tags:
        assert "src" not in attrs, (tag, attrs)  # no external script, image or frame
        assert tag != "link" and tag != "iframe"
        assert attrs.get("href", "#").startswith("#"), attrs
    executable = [attrs for attrs, _ in page.scripts if "type" not in attrs]
    assert len(executable) == 2  # plotly.js and our report.js, both inline


def test_hostile_text_appears_only_escaped(report):
    text, page, db = report
    assert db.execute("SELECT COUNT(*) FROM candidates WHERE code LIKE ?", (f"%{XSS}%",)).fetchone()[0] > 0
    assert XSS not in text and "<script>alert" not in text and "<img" not in text
    assert [tag for tag, _ in page.tags if tag in ("img", "svg", "iframe", "object")] == []
    assert "&lt;/script&gt;&lt;script&gt;alert(1)" in text  # the winner's diff, shown as text


def test_only_our_two_scripts_may_run_and_nothing_may_be_fetched(report):
    text, page, _ = report
    csp = next(attrs["content"] for tag, attrs in page.tags if attrs.get("http-equiv") == "Content-Security-Policy")
    allowed = set(re.findall(r"'sha256-([^']+)'", csp))
    inline = [body for attrs, body in page.scripts if "type" not in attrs]
    assert allowed == {base64.b64encode(hashlib.sha256(body.encode()).digest()).decode() for body in inline}
    assert "default-src 'none'" in csp and "unsafe-eval" not in csp and "'unsafe-inline'" not in csp.split("script-src")[1].split(";")[0]


def test_every_candidate_is_packed_intact(report):
    _, page, db = report
    blocks = {attrs["id"]: body for attrs, body in page.scripts if attrs.get("id", "").startswith("candidate-block-")}
    details = [d for body in blocks.values() for d in json.loads(gzip.decompress(base64.b64decode(body)))]
    stored = {cid: (code, diff, prompt, response) for cid, code, diff, prompt, response in db.execute(
        "SELECT c.id, c.code, c.diff, p.prompt, p.response FROM candidates c LEFT JOIN proposals p ON p.id = c.proposal_id")}
    assert {d["id"] for d in details} == set(stored)
    for d in details:
        call = d["call"] or {}
        assert (d["code"], d["diff"], call.get("prompt"), call.get("response")) == stored[d["id"]]
    index = json.loads(gzip.decompress(base64.b64decode(next(b for a, b in page.scripts if a.get("id") == "candidate-index"))))
    rows = [dict(zip(index["columns"], row)) for row in index["rows"]]
    in_iteration_order = [cid for (cid,) in db.execute("SELECT id FROM candidates ORDER BY iteration")]  # ids follow commits
    assert [r["id"] for r in rows] == in_iteration_order and all(f"candidate-block-{r['block']}" in blocks for r in rows)


def test_the_page_script_never_turns_text_into_markup():
    source = REPORT_JS.read_text()
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
        assert sink not in source, sink
    assert "textContent" in source
