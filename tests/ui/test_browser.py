"""Drive the app in headless Chromium (Playwright): upload, click a patch, hover and scrub the
in-browser explorers (attention and rollout), switch language, and check that the pictures and
texts really change — in the browser at once, on the server after the explorer's report.

Saves screenshots to docs/screenshots/, in English and Chinese (`_zh`): every section
(1280×800, with the explanation mosaic and the faithfulness curves computed), the page at
390 px, and both explorers at 1280×720 and 390 px.
Skips when /usr/bin/chromium is missing (never runs `playwright install`).
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from conftest import CHROMIUM, serve_app
from vitviz.views.text import TEXT

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "docs" / "screenshots"
MODEL = "vit_tiny_patch16_224"  # random weights: 12 blocks × 3 heads, 14×14 patches
# section → its screenshot's file stem (the lesson's steps have their own, in test_lesson_browser.py)
SECTIONS = {"input": "1_input", "position": "2_position", "attention": "3_attention", "rollout": "4_rollout",
            "prediction": "5_prediction", "export": "6_export", "residual": "11_residual",
            "ablation": "12_ablation", "trust": "13_trust"}
# the pictures with words in them: a language switch redraws them
WORDED = ("vv-pos-all", "vv-pos-patch", "vv-neuron", "vv-distance", "vv-block", "vv-relevance", "vv-lens",
          "vv-lens-patch", "vv-norms", "vv-norms-depth", "vv-explanations", "vv-faith")
EXPLORER, ROLLOUT = "#vv-explorer", "#vv-rollout-explorer"
REPORT_IDLE_S = 0.6  # explorer.js reports a control change to the server after 600 ms without input

pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"{CHROMIUM} is missing")

FORWARD_PASSES: list[str] = []  # one entry per vitviz.analyze call in the server


@pytest.fixture(scope="module")
def server():
    import vitviz

    real_analyze = vitviz.analyze

    def counting_analyze(*args, **kwargs):
        FORWARD_PASSES.append(str(kwargs.get("relevance_class")))
        return real_analyze(*args, **kwargs)

    vitviz.analyze = counting_analyze  # the app looks vitviz.analyze up at call time
    url, demo = serve_app(MODEL)
    try:
        yield url
    finally:
        demo.close()
        vitviz.analyze = real_analyze


# ---------------------------------------------------------------------- the page

def src(page, elem_id: str) -> str | None:
    return page.evaluate(f"(() => {{ const i = document.querySelector('#{elem_id} img'); return i ? i.src : null; }})()")


def wait_for(predicate, timeout: float = 45.0, what: str = "condition"):
    end = time.time() + timeout
    while time.time() < end:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def wait_src_change(page, elem_id: str, old: str | None, timeout: float = 45.0) -> str:
    return wait_for(lambda: (lambda s: s if s and s != old else None)(src(page, elem_id)), timeout,
                    f"#{elem_id} to change")


def text(page, elem_id: str) -> str:
    return page.evaluate(f"(() => {{ const e = document.querySelector('#{elem_id}'); return e ? e.innerText : ''; }})()")


def wait_images_loaded(page, scope: str = "body") -> None:
    """Scroll through `scope` so lazy images load, then wait until every <img> has decoded."""
    page.evaluate(f"""async () => {{
        const root = document.querySelector('{scope}');
        for (const img of root.querySelectorAll('img')) {{ img.loading = 'eager'; }}
    }}""")
    wait_for(lambda: page.evaluate(f"""() => Array.from(document.querySelectorAll('{scope} img'))
        .every(i => i.complete && i.naturalWidth > 0)"""), 30, "images to load")


def shrink_png(path: Path) -> None:
    from PIL import Image
    with Image.open(path) as im:
        im.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)


def screenshot(locator, name: str) -> None:
    path = SHOTS / name
    locator.screenshot(path=str(path))
    shrink_png(path)


def suffix(lang: str) -> str:
    """The screenshot names' language mark: none for English, "_zh" for Chinese."""
    return "" if lang == "en" else f"_{lang}"


def section_screenshots(page, lang: str) -> None:
    """Every section of the page, one screenshot each, once its pictures have loaded."""
    for name, stem in SECTIONS.items():
        section = page.locator(f"#vv-sec-{name}")
        section.scroll_into_view_if_needed()
        wait_images_loaded(page, f"#vv-sec-{name}")
        time.sleep(0.3)
        screenshot(section, f"{stem}{suffix(lang)}.png")


# ---------------------------------------------------------------------- the explorers

def owner(explorer: str) -> str:
    """JS for the element explorer.js owns (data-ready, data-all-layers, the "vvx-drawn" events)."""
    return f"document.querySelector('{explorer} .vvx').parentElement"


def ready(page, explorer: str) -> bool:
    return page.evaluate(f"() => !!document.querySelector('{explorer} .vvx') && {owner(explorer)}.dataset.allLayers === '1'")


def lesson_figures_shown(page) -> bool:
    return page.evaluate("""() => { const root = document.querySelector('#vv-lesson-html .vvl'),
                                      shown = document.querySelector('#vv-lesson-html [data-figures-shown]');
        return !!root && !!root.dataset.figures && !!shown && shown.dataset.figuresShown === root.dataset.figures; }""")


def wait_explorers(page, timeout: float = 90.0) -> None:
    """Both explorers have drawn and hold every layer's data, and the lesson shows the analysis'
    figures (nothing more to fetch)."""
    wait_for(lambda: ready(page, EXPLORER) and ready(page, ROLLOUT) and lesson_figures_shown(page), timeout,
             "the explorers' data and the lesson's figures")


def open_app(browser, server, width: int = 1280, height: int = 800):
    page = browser.new_page(viewport={"width": width, "height": height}, device_scale_factor=1)
    page.errors = []
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.goto(server)
    wait_for(lambda: src(page, "vv-grid"), 60, "the first analysis")
    wait_explorers(page)
    return page


def readout(page, explorer: str = EXPLORER) -> str:
    return page.locator(f"{explorer} .vvx-readout").inner_text()


def controls(page, explorer: str = EXPLORER) -> str:
    return page.locator(f"{explorer} .vvx-controls").inner_text()


def pixels(page, explorer: str) -> int | None:
    """A checksum of the explorer's canvas (changes when the drawn map changes); None while it loads."""
    return page.evaluate(f"""() => {{
        const c = document.querySelector('{explorer} .vvx-canvas');
        if (!c) return null;
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let h = 2166136261;
        for (let i = 0; i < d.length; i += 7) h = Math.imul(h ^ d[i], 16777619) >>> 0;
        return h; }}""")


def grid(page, explorer: str = EXPLORER) -> tuple[int, int]:
    gh, gw = page.locator(f"{explorer} .vvx").get_attribute("data-grid").split("x")
    return int(gh), int(gw)


def patch_point(page, explorer: str, row: int, col: int) -> tuple[float, float]:
    """The page coordinates of the centre of patch (row, col) on the explorer's canvas."""
    canvas = page.locator(f"{explorer} .vvx-canvas")
    canvas.scroll_into_view_if_needed()
    box, (gh, gw) = canvas.bounding_box(), grid(page, explorer)
    return box["x"] + (col + 0.5) * box["width"] / gw, box["y"] + (row + 0.5) * box["height"] / gh


def hover(page, explorer: str, row: int, col: int) -> None:
    page.mouse.move(*patch_point(page, explorer, row, col))


def press(page, selector: str, key: str, times: int = 1) -> None:
    """Real key presses on a focused control (as a keyboard user scrubs)."""
    page.locator(selector).focus()
    for _ in range(times):
        page.keyboard.press(key)


def wait_readout(page, needle: str, explorer: str = EXPLORER, timeout: float = 5.0) -> str:
    return wait_for(lambda: (lambda t: t if needle in t else None)(readout(page, explorer)), timeout,
                    f"{needle!r} in the readout of {explorer}")


def settle(page, requests: list, quiet: float = 1.0, timeout: float = 30.0) -> None:
    """Wait until the page has made no request for `quiet` seconds (lazy images, late events)."""
    end, seen, since = time.time() + timeout, len(requests), time.time()
    while time.time() < end:
        page.wait_for_timeout(100)
        if len(requests) != seen:
            seen, since = len(requests), time.time()
        elif time.time() - since >= quiet:
            return
    raise AssertionError("the page kept making requests")


def reports(requests: list) -> list[dict]:
    """The explorer reports (gradio select events) among `requests`: one per listening handler."""
    out = []
    for r in requests:
        if r.method == "POST" and "/queue/join" in r.url:
            event = json.loads(r.post_data or "{}").get("event_data") or {}
            if isinstance(event.get("value"), dict) and "selection" in event["value"]:
                out.append(event["value"])
    return out


# ---------------------------------------------------------------------- the walkthrough

def test_browser_walkthrough(server, browser):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = open_app(browser, server)
    # The page starts with an example already analysed.
    grid0 = src(page, "vv-grid")
    status0 = text(page, "vv-status")
    assert MODEL in status0

    # 1. upload an image → the forward pass runs, every picture changes, both explorers redraw
    photos = sorted((ROOT / "vitviz" / "assets" / "examples").glob("*.jpg"))
    upload = next((p for p in photos if "cat" not in p.name), None)
    if upload is None:
        from PIL import Image
        import numpy as np
        import tempfile
        upload = Path(tempfile.mkdtemp()) / "vitviz-upload.png"
        Image.fromarray(np.random.default_rng(0).integers(0, 255, (256, 320, 3), dtype=np.uint8)).save(upload)
    attention0, rollout0 = pixels(page, EXPLORER), pixels(page, ROLLOUT)
    page.set_input_files("#vv-input input[type=file]", str(upload))
    grid1 = wait_src_change(page, "vv-grid", grid0)
    wait_for(lambda: ready(page, ROLLOUT) and pixels(page, ROLLOUT) not in (None, rollout0), 45, "the new rollout")
    wait_for(lambda: ready(page, EXPLORER) and pixels(page, EXPLORER) not in (None, attention0), 45, "the new attention")

    # picking an example runs the forward pass again
    examples = page.locator(".gallery-item, button.gallery-item, [data-testid='examples'] button")
    if examples.count() > 1:
        grid_before = src(page, "vv-grid")
        examples.nth(examples.count() - 1).click()  # not the uploaded photo
        grid1 = wait_src_change(page, "vv-grid", grid_before)
        wait_explorers(page)

    passes = len(FORWARD_PASSES)

    # 2. click a patch of the grid image → the explorer pins it, the neuron view and the patch text change
    neuron0, patch_text0 = src(page, "vv-neuron"), text(page, "vv-patch")
    img = page.locator("#vv-grid img")
    img.scroll_into_view_if_needed()
    box = img.bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.1, box["y"] + box["height"] * 0.1)
    wait_src_change(page, "vv-neuron", neuron0)
    # (gradio shows a timer in the patch text while the click is handled: wait for the new text itself)
    wait_for(lambda: "row 1, column 1" in text(page, "vv-patch"), 20, "the patch text")
    assert text(page, "vv-patch") != patch_text0
    assert src(page, "vv-grid") != grid1  # the highlight moved
    wait_readout(page, "What patch (1, 1)", timeout=20)

    # 3. the explorer's layer range → its map at once, then the block table below
    block0 = text(page, "vv-block-md")
    press(page, f"{EXPLORER} .vvx-layer", "ArrowRight", 4)
    assert "in layer 5," in readout(page)
    wait_for(lambda: "block 5 of" in text(page, "vv-block-md"), 20, "the block table for layer 5")
    assert text(page, "vv-block-md") != block0

    # ... and the head select → the map and the neuron view change, the layer's block table does not
    block5 = text(page, "vv-block-md")
    press(page, f"{EXPLORER} .vvx-head", "ArrowDown")  # head 1 → head 2
    assert "head 2." in readout(page)
    wait_for(lambda: "head 2" in text(page, "vv-neuron-md"), 20, "the neuron view for head 2")
    assert text(page, "vv-block-md") == block5

    # 4. switch head fusion → the rollout map changes (in the browser)
    rollout2 = pixels(page, ROLLOUT)
    page.locator(f"{ROLLOUT} .vvx-fusion").select_option(value="max")
    wait_readout(page, "max over heads", ROLLOUT)
    assert pixels(page, ROLLOUT) != rollout2

    assert len(FORWARD_PASSES) == passes, "clicking, the explorers' controls and the grid must not run the model"

    # 5. class-specific relevance (runs the model once more) and export
    assert src(page, "vv-relevance") is None
    page.locator("#vv-relevance-btn").click()
    wait_for(lambda: src(page, "vv-relevance"), 60, "the relevance map")
    assert len(FORWARD_PASSES) == passes + 1 and FORWARD_PASSES[-1] != "None"
    page.locator("#vv-export-btn").click()
    wait_for(lambda: "_analysis" in text(page, "vv-files"), 60, "the export files")
    # (the file list writes each name's stem and extension in separate elements)
    assert all(kind in text(page, "vv-files") for kind in (".npz", ".png", "_lesson_en\n.html"))
    # ... and the explanations and their faithfulness (these run the model, not vitviz.analyze)
    page.locator("#vv-explain-btn").click()
    wait_for(lambda: src(page, "vv-explanations"), 240, "the explanation mosaic")
    page.locator("#vv-faith-btn").click()
    wait_for(lambda: src(page, "vv-faith"), 240, "the faithfulness curves")

    # screenshots of every section in English at 1280×800
    section_screenshots(page, "en")
    page.evaluate("window.scrollTo(0, 0)")
    time.sleep(0.3)
    top = SHOTS / "0_top_1280x800.png"
    page.screenshot(path=str(top))
    shrink_png(top)

    # 6. a model that does not exist: a clear warning, the previous model keeps working
    model_box = page.locator("#vv-model input")
    model_box.scroll_into_view_if_needed()
    model_box.fill("vit_no_such_model")
    model_box.press("Enter")
    wait_for(lambda: "Unknown model name" in page.locator("body").inner_text(), 30, "the model warning")
    wait_for(lambda: page.locator("#vv-model input").input_value() == MODEL, 20, "the model name to be restored")
    press(page, f"{EXPLORER} .vvx-layer", "ArrowLeft")
    assert "in layer 4," in readout(page)
    wait_for(lambda: "block 4 of" in text(page, "vv-block-md"), 20, "the block table for layer 4")

    # 7. switch language → labels and explanations are in Chinese, pictures are kept
    assert "Input and patches" in text(page, "vv-sec-input")
    rollout3 = pixels(page, ROLLOUT)
    english = {elem_id: src(page, elem_id) for elem_id in WORDED}
    assert all(english.values()), english
    page.locator("#vv-lang label", has_text="简体中文").click()
    # each section switches its own texts (one event per section): wait for every one of them
    wait_for(lambda: "输入与图像块" in text(page, "vv-sec-input"), 20, "Chinese texts")
    wait_for(lambda: "自注意力" in text(page, "vv-sec-attention"), 20, "Chinese attention texts")
    wait_for(lambda: "注意力 Rollout" in text(page, "vv-sec-rollout"), 20, "Chinese rollout texts")
    wait_for(lambda: "已选图像块" in text(page, "vv-patch"), 20, "the Chinese patch text")
    wait_for(lambda: TEXT["x_head"]["zh"] in controls(page) and TEXT["x_discard"]["zh"] in controls(page, ROLLOUT),
             20, "Chinese explorer labels")  # the explorers' controls too
    assert "Input and patches" not in text(page, "vv-sec-input")
    assert pixels(page, ROLLOUT) == rollout3
    for elem_id, old in english.items():  # the figures' words too, without running anything
        wait_src_change(page, elem_id, old, 30)
    wait_for(lambda: "解释可信吗" in text(page, "vv-sec-trust"), 20, "Chinese trust texts")
    section_screenshots(page, "zh")
    # and back
    page.locator("#vv-lang label", has_text="English").click()
    wait_for(lambda: "Input and patches" in text(page, "vv-sec-input"), 20, "English texts")
    wait_for(lambda: TEXT["x_layer"]["en"] in controls(page), 20, "English explorer labels")
    assert len(FORWARD_PASSES) == passes + 1, "switching language or a failed model load ran the model"
    assert not page.errors, page.errors
    page.close()


# ---------------------------------------------------------------------- the attention explorer

def test_hovering_a_patch_shows_what_it_attends_to(server, browser):
    page = open_app(browser, server)
    pinned = readout(page)
    hover(page, EXPLORER, 2, 3)
    first = wait_readout(page, "Under the pointer: patch (2, 3)")
    assert first.startswith("What patch (2, 3)") and first != pinned
    drawn = pixels(page, EXPLORER)
    hover(page, EXPLORER, 10, 12)
    second = wait_readout(page, "Under the pointer: patch (10, 12)")
    assert second.startswith("What patch (10, 12)") and pixels(page, EXPLORER) != drawn
    page.mouse.move(0, 0)  # leaving the canvas goes back to the pinned patch
    wait_for(lambda: readout(page) == pinned, 5, "the pinned patch's readout")
    assert not page.errors, page.errors
    page.close()


def test_clicking_a_patch_pins_it_and_the_server_views_follow(server, browser):
    page = open_app(browser, server)
    neuron0 = src(page, "vv-neuron")
    page.mouse.click(*patch_point(page, EXPLORER, 2, 3))
    assert readout(page).startswith("What patch (2, 3)")
    wait_src_change(page, "vv-neuron", neuron0, 20)
    wait_for(lambda: "row 2, column 3" in text(page, "vv-patch"), 20, "the patch text for (2, 3)")
    # arrow keys on the focused canvas move the pinned patch; the page follows after the report
    neuron1 = src(page, "vv-neuron")
    press(page, f"{EXPLORER} .vvx-canvas", "ArrowRight")
    assert readout(page).startswith("What patch (2, 4)")
    wait_for(lambda: "row 2, column 4" in text(page, "vv-patch"), 20, "the patch text for (2, 4)")
    wait_src_change(page, "vv-neuron", neuron1, 20)
    assert not page.errors, page.errors
    page.close()


def test_the_layer_range_redraws_at_once_and_the_block_table_follows(server, browser):
    page = open_app(browser, server)
    # the explorer draws its first view before the server's block table arrives: wait for the table
    wait_for(lambda: "block 1 of" in text(page, "vv-block-md"), 30, "the block table for layer 1")
    before = readout(page)
    assert "in layer 1," in before
    press(page, f"{EXPLORER} .vvx-layer", "ArrowRight", 2)
    now = readout(page)  # no waiting: drawn in the browser from the data it holds
    assert "in layer 3," in now and now != before
    wait_for(lambda: "block 3 of" in text(page, "vv-block-md"), 20, "the block table for layer 3")
    assert not page.errors, page.errors
    page.close()


def test_the_head_and_query_selects_change_the_map(server, browser):
    page = open_app(browser, server)
    assert "head 1." in readout(page)
    drawn = pixels(page, EXPLORER)
    press(page, f"{EXPLORER} .vvx-head", "ArrowDown")  # head 1 → head 2
    assert "head 2." in readout(page) and pixels(page, EXPLORER) != drawn
    wait_for(lambda: "head 2" in text(page, "vv-neuron-md"), 20, "the neuron view for head 2")
    page.locator(f"{EXPLORER} .vvx-head").select_option(value="mean")
    assert TEXT["x_all_mean"]["en"] in readout(page)
    page.locator(f"{EXPLORER} .vvx-query").select_option(value="CLS")
    assert readout(page).startswith("What CLS attends to")
    hover(page, EXPLORER, 5, 5)  # with a prefix query, hovering only reads the value under the pointer
    assert wait_readout(page, "Under the pointer: patch (5, 5)").startswith("What CLS attends to")
    assert not page.errors, page.errors
    page.close()


def test_the_mosaic_tiles_pick_layer_and_head(server, browser):
    page = open_app(browser, server)
    mosaic = page.locator(f"{EXPLORER} .vvx-mosaic")
    box, depth = mosaic.bounding_box(), int(page.locator(f"{EXPLORER} .vvx-layer").get_attribute("max"))
    # the tile of the last layer's last head is in the bottom-right corner
    mosaic.click(position={"x": box["width"] - 4, "y": box["height"] - 4})
    heads = page.locator(f"{EXPLORER} .vvx-head option").count() - 2
    assert f"in layer {depth}, head {heads}." in readout(page)
    assert page.locator(f"{EXPLORER} .vvx-layer").input_value() == str(depth)
    wait_for(lambda: f"block {depth} of" in text(page, "vv-block-md"), 20, "the block table of the last layer")
    page.close()


# ---------------------------------------------------------------------- the rollout explorer

def test_fusion_and_discard_change_the_rollout_map(server, browser):
    page = open_app(browser, server)
    assert readout(page, ROLLOUT).startswith("Rollout (mean over heads, discard 0.00).")
    drawn = pixels(page, ROLLOUT)
    press(page, f"{ROLLOUT} .vvx-fusion", "ArrowDown")  # mean → max
    assert readout(page, ROLLOUT).startswith("Rollout (max over heads, discard 0.00).")
    assert pixels(page, ROLLOUT) != drawn
    drawn = pixels(page, ROLLOUT)
    press(page, f"{ROLLOUT} .vvx-discard", "ArrowRight", 3)
    assert readout(page, ROLLOUT).startswith("Rollout (max over heads, discard 0.15).")
    assert pixels(page, ROLLOUT) != drawn
    hover(page, ROLLOUT, 4, 6)
    wait_readout(page, "Under the pointer: patch (4, 6)", ROLLOUT)
    # a tile of the per-head mosaic shows that head's rollout, the button goes back
    mosaic = page.locator(f"{ROLLOUT} .vvx-mosaic")
    box = mosaic.bounding_box()
    mosaic.click(position={"x": box["width"] - 4, "y": box["height"] - 4})
    wait_readout(page, "Rollout through layer 12, head 3.", ROLLOUT)
    page.locator(f"{ROLLOUT} .vvx-full").click()
    wait_readout(page, "Rollout (max over heads, discard 0.15).", ROLLOUT)
    assert not page.errors, page.errors
    page.close()


# ---------------------------------------------------------------------- what the explorers cost

def test_hover_and_scrubbing_make_no_network_request(server, browser):
    """After data-all-layers="1", hovering and scrubbing layer, head, fusion and discard draw from
    the data in the tab: no request from the first to the last input. What follows is the one
    debounced report of the final selection (600 ms after the last change), and nothing else."""
    page = open_app(browser, server)
    requests: list = []
    page.on("request", lambda r: requests.append(r))
    page.evaluate("""() => { window.__fetched = []; window.__keys = [];
        new PerformanceObserver((l) => { for (const e of l.getEntries()) window.__fetched.push(e.startTime); })
            .observe({ type: 'resource' });
        document.addEventListener('keydown', (e) => window.__keys.push(e.timeStamp), true); }""")
    gh, gw = grid(page)
    depth = int(page.locator(f"{EXPLORER} .vvx-layer").get_attribute("max"))

    def window(explorer: str, scrub) -> dict:
        """Hover every other patch of `explorer`, then `scrub()` with the keyboard."""
        page.locator(f"{explorer} .vvx").scroll_into_view_if_needed()
        hover(page, explorer, 0, 0)
        settle(page, requests)  # the lazy images next to it
        before = len(requests)
        start = page.evaluate("performance.now()")
        for r in range(0, gh, 2):
            for c in range(0, gw, 2):
                hover(page, explorer, r, c)
        last = (gh - 1) // 2 * 2, (gw - 1) // 2 * 2
        assert f"Under the pointer: patch ({last[0]}, {last[1]})" in readout(page, explorer)
        scrub()
        end = page.evaluate("performance.now()")  # the last input has been drawn (drawing is synchronous)
        during = requests[before:]  # read at once: the report cannot have fired yet (see `idle`)
        # the report fires after 600 ms without a change: no gap that long from the first key on
        keys = page.evaluate(f"() => window.__keys.filter((t) => t >= {start})") + [end]
        idle = max(b - a for a, b in zip(keys, keys[1:])) / 1000
        page.wait_for_timeout(1500)  # the report follows...
        settle(page, requests)
        fetched = page.evaluate(f"() => window.__fetched.filter((t) => t >= {start} && t <= {end}).length")
        return {"during": [r.url for r in during], "fetched": fetched, "idle": idle, "after": requests[before:]}

    def scrub_attention():
        press(page, f"{EXPLORER} .vvx-layer", "ArrowRight", depth - 1)
        press(page, f"{EXPLORER} .vvx-head", "ArrowUp", 2)  # head 1 → mean, max
        press(page, f"{EXPLORER} .vvx-head", "ArrowDown", 3)  # … → head 2

    def scrub_rollout():
        press(page, f"{ROLLOUT} .vvx-fusion", "ArrowDown", 2)  # mean → max → min
        press(page, f"{ROLLOUT} .vvx-discard", "ArrowRight", 6)

    for explorer, scrub, final in ((EXPLORER, scrub_attention, {"layer": depth - 1, "head": 1}),
                                   (ROLLOUT, scrub_rollout, {"fusion": "min", "discard": 0.3})):
        seen = window(explorer, scrub)
        assert seen["idle"] < REPORT_IDLE_S, "the scrub paused long enough for a report: the window is not valid"
        assert seen["during"] == [], seen["during"]
        assert seen["fetched"] == 0, "the page's resource timing lists a request made while hovering and scrubbing"
        sent = reports(seen["after"])
        assert sent and all(r == sent[0] for r in sent), "exactly one report follows the scrub"
        assert {k: sent[0]["selection"].get(k) for k in final} == final
        assert not any("component_server" in r.url for r in seen["after"]), "the explorers fetched data again"
    assert not page.errors, page.errors
    page.close()


# ---------------------------------------------------------------------- language and layout

def test_chinese_relabels_the_explorers_and_keeps_their_selection(server, browser):
    page = open_app(browser, server)
    press(page, f"{EXPLORER} .vvx-layer", "ArrowRight", 2)
    page.locator("#vv-lang label", has_text="简体中文").click()
    wait_for(lambda: TEXT["x_layer"]["zh"] in controls(page), 20, "the Chinese explorer labels")
    for key in ("x_head", "x_query", "x_opacity"):
        assert TEXT[key]["zh"] in controls(page), key
    wait_for(lambda: TEXT["x_fusion"]["zh"] in controls(page, ROLLOUT), 20, "the Chinese rollout labels")
    assert TEXT["x_discard"]["zh"] in controls(page, ROLLOUT)
    assert page.locator(f"{EXPLORER} .vvx-help").inner_text() == TEXT["x_help"]["zh"]
    assert "第 3 层" in readout(page) and "关注的位置" in readout(page)  # the layer is kept, the readout in Chinese
    assert page.locator(f"{EXPLORER} .vvx-layer").input_value() == "3"
    assert TEXT["x_mean"]["zh"] in page.locator(f"{ROLLOUT} .vvx-fusion").inner_text()
    assert not page.errors, page.errors
    page.close()


def fits(page, explorer: str) -> list[str]:
    """The parts of the explorer that stick out of it (or out of the screen)."""
    return page.evaluate(f"""() => {{
        const root = document.querySelector('{explorer} .vvx'), box = root.getBoundingClientRect();
        const screen = document.documentElement.clientWidth;
        return Array.from(root.querySelectorAll('*')).filter((e) => {{
            const r = e.getBoundingClientRect();
            return r.width > 0 && (r.right > Math.min(box.right, screen) + 0.5 || r.left < box.left - 0.5);
        }}).map((e) => e.className || e.tagName); }}""")


@pytest.mark.parametrize("width,height", [(1280, 720), (390, 844)])
def test_the_explorers_fit_the_screen_in_both_languages(server, browser, width, height):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = open_app(browser, server, width, height)
    size = f"{width}x{height}" if width > 600 else f"{width}"
    for lang in ("en", "zh"):
        if lang == "zh":
            page.locator("#vv-lang label", has_text="简体中文").click()
            wait_for(lambda: TEXT["x_head"]["zh"] in controls(page) and TEXT["x_fusion"]["zh"] in controls(page, ROLLOUT),
                     20, "the Chinese explorer labels")
        for explorer, name in ((EXPLORER, "8_explorer"), (ROLLOUT, "9_rollout_explorer")):
            assert fits(page, explorer) == [], fits(page, explorer)
            mosaic = page.locator(f"{explorer} .vvx-mosaic").bounding_box()
            assert mosaic["x"] + mosaic["width"] <= width and mosaic["width"] > 0
            page.locator(f"{explorer} .vvx").evaluate("(e) => e.scrollIntoView({block: 'start'})")
            if width > 600:  # a pointer to hover with (a phone has none)
                hover(page, explorer, 4, 5)
                wait_readout(page, TEXT["x_under_pointer"][lang].split("{")[0], explorer)
            time.sleep(0.3)
            screenshot(page.locator(f"{explorer} .vvx"), f"{name}_{size}_{lang}.png")
    assert page.evaluate("document.documentElement.scrollWidth") <= width + 2
    assert not page.errors, page.errors
    page.close()


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_phone_width(server, browser, lang):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = open_app(browser, server, 390, 844)
    if lang == "zh":
        page.locator("#vv-lang label", has_text="简体中文").click()
        wait_for(lambda: "输入与图像块" in text(page, "vv-sec-input"), 20, "Chinese texts")
    # nothing wider than the screen: pictures scale down to the column
    overflow = page.evaluate("document.documentElement.scrollWidth")
    assert overflow <= 390 + 2, overflow
    widths = page.evaluate("Array.from(document.querySelectorAll('.vv-img img')).map(i => i.getBoundingClientRect().width)")
    assert widths and max(widths) <= 390
    widths = page.evaluate("Array.from(document.querySelectorAll('.vvx canvas')).map(c => c.getBoundingClientRect().right)")
    assert widths and max(widths) <= 390
    page.locator("#vv-sec-input").scroll_into_view_if_needed()
    wait_images_loaded(page, "#vv-sec-input")
    path = SHOTS / f"7_phone_390{suffix(lang)}.png"
    page.screenshot(path=str(path))
    shrink_png(path)
    page.close()
