"""The search playground in headless Chromium (Debian's, driven by Playwright) against a real
server on loopback: three columns fill, alpha reorders the fused list exactly as the API does,
explain shows the arithmetic, errors are shown, and it fits a phone's width."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from playwright.sync_api import Page, sync_playwright
from serverproc import Server

pytestmark = pytest.mark.slow

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
QUERY = "how does lucene do vector search"


def chromium() -> str:
    path = shutil.which("chromium")
    assert path, "the browser test needs Debian's chromium: run scripts/install-browser.sh"
    return path


def column_ids(page: Page, which: str) -> list[str]:
    return page.locator(f"#col-{which} li.hit").evaluate_all("els => els.map(e => e.dataset.id)")


def api_ids(srv: Server, **body: object) -> list[str]:
    r = srv.post("/v1/collections/demo/search", {"query": QUERY, "k": 10, **body})
    assert r.status_code == 200, r.text
    return [h["id"] for h in r.json()["hits"]]


def searched(page: Page, n: int) -> None:
    """Wait until the page has finished its n-th search (it counts them on <body>)."""
    page.wait_for_function(f"Number(document.body.dataset.searches || 0) >= {n}", timeout=30_000)


def test_playground_in_a_real_browser(tmp_path):
    ARTIFACTS.mkdir(exist_ok=True)
    srv = Server(tmp_path / "data", env={"LUCENE_HYBRID_DEMO_COLLECTION": "true"}).start(300)
    js_errors: list[str] = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium())
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("pageerror", lambda e: js_errors.append(str(e)))
            page.goto(f"{srv.url}/")
            page.wait_for_selector("body[data-ready='true']")
            assert page.locator("#collection").input_value() == "demo"

            page.fill("#query", QUERY)
            page.press("#query", "Enter")
            searched(page, 1)
            for which in ("bm25", "dense", "fused"):
                assert page.locator(f"#col-{which} li.hit").count() > 0, which
            assert column_ids(page, "bm25") == api_ids(srv, mode="bm25")
            assert column_ids(page, "dense") == api_ids(srv, mode="dense")
            assert column_ids(page, "fused") == api_ids(srv, mode="hybrid")
            assert page.locator("#chart circle.point").count() == len(column_ids(page, "fused"))
            assert page.locator("#col-bm25 mark").count() > 0  # query terms highlighted
            page.hover("#col-fused li.hit >> nth=2")
            page.screenshot(path=str(ARTIFACTS / "playground.png"), full_page=True)

            # Alpha by keyboard: Home = 0 (BM25 only), End = 1 (dense only).
            fusion = {"fusion": "linear", "normalization": "zscore"}
            page.focus("#alpha")
            page.keyboard.press("Home")
            searched(page, 2)
            at_0 = column_ids(page, "fused")
            assert at_0 == api_ids(srv, mode="hybrid", alpha=0.0, **fusion)
            page.keyboard.press("End")
            searched(page, 3)
            at_1 = column_ids(page, "fused")
            assert at_1 == api_ids(srv, mode="hybrid", alpha=1.0, **fusion)
            assert at_0 != at_1
            assert at_0[:3] == api_ids(srv, mode="bm25")[:3]  # alpha 0 follows BM25's lead
            assert at_1 == api_ids(srv, mode="dense")  # alpha 1 is the dense order

            # Hovering a hit lights the same document up in every column.
            first = at_1[0]
            page.hover("#col-fused li.hit >> nth=0")
            linked = page.locator("li.hit.linked").evaluate_all("els => els.map(e => e.dataset.id)")
            assert set(linked) == {first} and len(linked) >= 2

            # Explain: the arithmetic ends in the fused score the column shows.
            page.keyboard.press("Home")
            searched(page, 4)
            page.click("#col-fused li.hit >> nth=0 >> button.explain")
            page.wait_for_selector("#explain[open]")
            formula = page.inner_text("#explain-formula")
            shown = page.inner_text("#col-fused li.hit >> nth=0 >> .score")
            assert (
                re.search(r"= (-?[\d.]+)$", formula)
                and abs(float(formula.rsplit("= ", 1)[1]) - float(shown)) < 1e-3
            ), (formula, shown)
            page.keyboard.press("Escape")
            page.wait_for_selector("#explain:not([open])", state="attached")
            page.screenshot(path=str(ARTIFACTS / "playground-alpha0.png"), full_page=True)

            # A phone's width: one column, nothing wider than the screen.
            page.set_viewport_size({"width": 390, "height": 844})
            assert page.evaluate("document.documentElement.scrollWidth") <= 390
            page.screenshot(path=str(ARTIFACTS / "playground-phone.png"))

            # Errors from the server are shown, not swallowed: a bad parameter ...
            page.set_viewport_size({"width": 1280, "height": 900})
            page.fill("#k", "5000")
            page.press("#query", "Enter")
            searched(page, 5)
            error = page.locator("#error")
            assert error.is_visible() and "1000" in error.inner_text()
            # ... and an unknown collection, from a shared link.
            page.goto(f"{srv.url}/?collection=nope&q=volcano")
            page.wait_for_selector("body[data-ready='true']")
            assert "404" in error.inner_text() and "nope" in error.inner_text()
            browser.close()
    finally:
        srv.stop()
    assert js_errors == []
