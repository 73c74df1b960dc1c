"""The lesson in headless Chromium: every step in both languages, on a projector (1280×720) and a
phone (390×844), fits without overflowing; the buttons, the arrow keys and `?step=N` move it; and
axe-core finds no critical or serious accessibility violation on the open page, after an upload and
in the lesson. Screenshots of every step at 1280×720 go to docs/screenshots/lesson/.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from conftest import CHROMIUM, serve_app

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "docs" / "screenshots" / "lesson"
MODEL = "vitviz-fashion"
LESSON = "#vv-lesson-html"
# the step the lesson's script shows (it keeps it in `data-step` on the component's element)
STEP = ("(() => { const e = document.querySelector('#vv-lesson-html');"
        " const d = e.dataset.step ? e : e.querySelector('[data-step]'); return d ? d.dataset.step : null; })()")

pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"{CHROMIUM} is missing")


@pytest.fixture(scope="module")
def server():
    url, demo = serve_app(MODEL, random_weights=False)
    try:
        yield url
    finally:
        demo.close()


def open_lesson(browser, url: str, width: int, height: int, lang: str = "en", step: int | None = None,
                motion: str = "no-preference"):
    page = browser.new_page(viewport={"width": width, "height": height}, reduced_motion=motion)
    page.goto(url + (f"?step={step}" if step else ""))
    page.wait_for_selector(f"{LESSON} .vvl[data-steps]", timeout=120_000)
    if lang == "zh":
        page.locator("#vv-lang label", has_text="简体中文").click()
        page.wait_for_function(f"() => document.querySelector('{LESSON} .vvl[data-steps]')?.lang === 'zh-Hans'",
                               timeout=60_000)
    page.locator(LESSON).scroll_into_view_if_needed()
    return page


def current(page) -> dict:
    """The shown step: its number, and how far its parts spill over (px; 0 when it fits)."""
    return page.evaluate(f"""() => {{
        const root = document.querySelector('{LESSON} .vvl'), on = root.querySelector('.vvl-step.vvl-on');
        const body = on.querySelector('.vvl-body'), r = root.getBoundingClientRect();
        return {{ step: +{STEP}, count: +root.dataset.steps,
                 body_over: body.scrollHeight - body.clientHeight, wide_over: root.scrollWidth - root.clientWidth,
                 page_wide_over: document.documentElement.scrollWidth - window.innerWidth,
                 height: r.height, title: on.querySelector('.vvl-title').textContent }}; }}""")


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("width,height", [(1280, 720), (390, 844)])
def test_every_step_fits_the_screen(server, browser, lang, width, height):
    page = open_lesson(browser, server, width, height, lang, motion="reduce")  # the figures, not the animations' start
    try:
        first = current(page)
        assert first["step"] == 1 and first["count"] >= 13
        for n in range(1, first["count"] + 1):
            s = current(page)
            assert s["step"] == n, s
            assert s["wide_over"] <= 1 and s["page_wide_over"] <= 1, (n, s)  # nothing wider than the screen
            if width >= 1280:  # a projector: one screen per step, no scrolling
                assert s["body_over"] <= 1 and s["height"] <= height, (n, s)
                SHOTS.mkdir(parents=True, exist_ok=True)
                page.locator(LESSON).screenshot(path=str(SHOTS / f"step_{n:02d}_{lang}.png"))
            nxt = page.locator("#vv-lesson-next")
            if n < s["count"]:
                nxt.click()
                page.wait_for_function(f"() => {STEP} === '{n + 1}'")
            else:
                assert nxt.is_disabled()
    finally:
        page.close()


def test_the_address_opens_a_step_and_the_arrow_keys_move_it(server, browser):
    page = open_lesson(browser, server, 1280, 720, step=7)
    try:
        page.wait_for_function(f"() => {STEP} === '7'")
        page.keyboard.press("ArrowRight")
        page.wait_for_function(f"() => {STEP} === '8'")
        assert "step=8" in page.url
        page.keyboard.press("ArrowLeft")
        page.wait_for_function(f"() => {STEP} === '7'")
    finally:
        page.close()


def settled(page, quiet_s: float = 1.0, timeout_s: float = 60.0) -> None:
    """No component shows gradio's pending state (faded to 20 % while it updates) for `quiet_s`."""
    end, since = time.time() + timeout_s, time.time()
    while time.time() < end:
        if page.evaluate("() => document.querySelectorAll('.pending').length") > 0:
            since = time.time()
        elif time.time() - since >= quiet_s:
            return
        time.sleep(0.1)
    raise AssertionError("the page kept updating")


def serious_violations(page) -> list[str]:
    """axe-core's critical and serious findings on the settled page."""
    from axe_playwright_python.sync_playwright import Axe

    settled(page)
    result = Axe().run(page)
    return [f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes'][:3]]}"
            for v in result.response["violations"] if v["impact"] in ("critical", "serious")]


def wait_explorer(page, previous: str | None = None) -> str:
    """Wait for the attention explorer to show an analysis other than `previous` → its grid key."""
    end = time.time() + 120
    while time.time() < end:
        key = page.evaluate("""() => { const e = document.querySelector('#vv-explorer .vvx');
            return e && e.parentElement.dataset.ready === '1' ? e.parentElement.dataset.inlineSizes : null; }""")
        if key and key != previous:
            return key
        time.sleep(0.2)
    raise AssertionError("the explorer did not get the new analysis")


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_no_critical_or_serious_accessibility_violation(server, browser, lang):
    page = open_lesson(browser, server, 1280, 720, lang)
    try:
        first = wait_explorer(page)
        assert serious_violations(page) == [], "open page"
        page.set_input_files("#vv-input input[type=file]", str(ROOT / "vitviz" / "assets" / "examples" / "fashion_0013_dress.png"))
        wait_explorer(page, first)
        assert serious_violations(page) == [], "after an upload"
        page.locator(LESSON).scroll_into_view_if_needed()
        for _ in range(6):
            page.locator("#vv-lesson-next").click()
        assert serious_violations(page) == [], "in the lesson"
    finally:
        page.close()
