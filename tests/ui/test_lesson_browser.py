"""The lesson in headless Chromium: every step in both languages, on a projector (1280×720) and a
phone (390×844), fits without overflowing; the buttons, the arrow keys and `?step=N` move it; and
axe-core finds no critical or serious accessibility violation on the open page, after an upload and
in the lesson; every picture's alt text names the image; the main flow works by keyboard alone; the
handout opens and prints with the network off. Screenshots of every step at 1280×720 go to
docs/screenshots/lesson/.
"""
from __future__ import annotations

import os
import re
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
            page.wait_for_function(f"""() => {{ const img = document.querySelector('{LESSON} .vvl-step.vvl-on .vvl-img');
                return !img || (img.complete && img.naturalWidth > 0); }}""", timeout=30_000)  # its figure is shown
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


def test_an_animation_plays_with_the_input_picture_that_arrives_with_the_figures(server, browser):
    """Step 2 slides the patches of the input picture; that picture comes with the fetched figures, after
    the value, so the animation has to wait for it rather than draw an empty image."""
    page = browser.new_page(viewport={"width": 1280, "height": 720}, reduced_motion="no-preference")
    try:
        page.add_init_script("""window.__vvlDone = []; window.__vvlEmpty = 0; window.__vvlDrawn = 0;
            document.addEventListener('vvl-animated', (e) => window.__vvlDone.push(e.detail.kind), true);
            const draw = CanvasRenderingContext2D.prototype.drawImage;
            CanvasRenderingContext2D.prototype.drawImage = function (img, ...rest) {
              if (img instanceof HTMLImageElement) { if (img.naturalWidth) window.__vvlDrawn++; else window.__vvlEmpty++; }
              return draw.call(this, img, ...rest); };""")
        page.goto(server + "?step=2")
        page.wait_for_function("() => window.__vvlDone.includes('patches_to_sequence')", timeout=120_000)
        drawn, empty = page.evaluate("() => [window.__vvlDrawn, window.__vvlEmpty]")
        assert drawn > 0 and empty == 0
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
        shown, undescribed = page.evaluate("""() => {
            const shown = [...document.querySelectorAll('.vv-img img')].filter((i) => i.offsetParent !== null);
            return [shown.length, shown.filter((i) => !(i.alt || '').includes('fashion_0013_dress.png'))
                                       .map((i) => i.closest('[id^=vv-]')?.id)]; }""")
        assert shown >= 10 and undescribed == [], f"pictures whose alt text does not name the image: {undescribed}"
        page.locator(LESSON).scroll_into_view_if_needed()
        for _ in range(6):
            page.locator("#vv-lesson-next").click()
        assert serious_violations(page) == [], "in the lesson"
    finally:
        page.close()


@pytest.fixture(scope="module")
def handout(tmp_path_factory) -> Path:
    """The CLI's handout of an example, in Chinese (the harder case for fonts and layout)."""
    import vitviz
    from vitviz.views.handout import lesson_handout

    loaded = vitviz.load_model(MODEL)
    page, _ = lesson_handout(vitviz.analyze(loaded, ROOT / "vitviz" / "assets" / "examples" / "fashion_0013_dress.png"),
                             loaded, "zh")
    path = tmp_path_factory.mktemp("handout") / "lesson.html"
    path.write_text(page, encoding="utf-8")
    return path


def test_the_handout_shows_every_step_with_the_network_off(browser, handout):
    context = browser.new_context(offline=True, viewport={"width": 1280, "height": 720})
    asked: list[str] = []
    context.on("request", lambda r: asked.append(r.url))
    page = context.new_page()
    try:
        page.goto(handout.as_uri())
        page.wait_for_load_state("load")
        shown = page.evaluate("""() => [...document.querySelectorAll('section.step')].map((s) => {
            const img = s.querySelector('img'), r = s.getBoundingClientRect();
            return { title: s.querySelector('h2').textContent.trim(), height: r.height,
                     figure: img ? img.complete && img.naturalWidth > 0 : null }; })""")
        assert len(shown) == 14
        assert all(s["title"] and s["height"] > 50 for s in shown)
        assert all(s["figure"] is not False for s in shown), "a figure did not load"
        assert sum(s["figure"] is True for s in shown) >= 12
        assert [u for u in asked if not u.startswith(("file:", "data:"))] == []
        page.emulate_media(media="print")
        pages = len(re.findall(rb"/Type\s*/Page(?!s)", page.pdf()))
        assert pages >= 14, pages  # printed, every step starts a page (the CSS's page break)
    finally:
        context.close()


def tab_to(page, test_js: str, presses: int = 250) -> None:
    """Press Tab until the focused element passes `test_js` (a function of the element)."""
    for _ in range(presses):
        page.keyboard.press("Tab")
        if page.evaluate(f"() => ({test_js})(document.activeElement)"):
            return
    raise AssertionError(f"Tab never reached {test_js}")


FOCUS_RING = """() => { const s = getComputedStyle(document.activeElement);
    return (s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0) || s.boxShadow !== 'none'; }"""


def test_the_main_flow_works_by_keyboard_alone(server, browser):
    page = browser.new_page(viewport={"width": 1280, "height": 720})
    try:
        page.goto(server)
        first = wait_explorer(page)
        # choose an example with the keyboard (on the gallery's first page): the model runs on it
        tab_to(page, "(e) => (e.getAttribute('aria-label') || '').startsWith('Example: fashion 0008')")
        assert page.evaluate(FOCUS_RING)
        page.keyboard.press("Enter")
        wait_explorer(page, first)
        # the lesson's next button, pressed with Enter
        tab_to(page, "(e) => e.id === 'vv-lesson-next'")
        assert page.evaluate(FOCUS_RING)
        page.keyboard.press("Enter")
        page.wait_for_function(f"() => {STEP} === '2'")
        # the explorer's layer control: arrow keys step through the layers, with a visible focus ring
        tab_to(page, "(e) => e.matches('#vv-explorer .vvx-layer')")
        assert page.evaluate(FOCUS_RING)
        before = page.evaluate("() => document.activeElement.value")
        page.keyboard.press("ArrowRight")
        assert page.evaluate("() => document.activeElement.value") != before
    finally:
        page.close()
