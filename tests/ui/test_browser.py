"""Drive the app in headless Chromium (Playwright): upload, click a patch, move the layer slider,
switch fusion and language, and check that the pictures and texts really change.

Saves screenshots of every section to docs/screenshots/ (1280×800, and the page at 390 px).
Skips when /usr/bin/chromium is missing (never runs `playwright install`).
"""
from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from conftest import serve_app

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
SHOTS = ROOT / "docs" / "screenshots"
MODEL = "vit_tiny_patch16_224"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
SECTIONS = ["input", "position", "attention", "rollout", "prediction", "export"]

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


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield b
        finally:
            b.close()


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


def test_browser_walkthrough(server, browser):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(server)
    # The page starts with an example already analysed.
    grid0 = wait_for(lambda: src(page, "vv-grid"), 60, "the first analysis")
    status0 = text(page, "vv-status")
    assert MODEL in status0

    # 1. upload an image → the forward pass runs and every picture changes
    photos = sorted((ROOT / "assets" / "examples").glob("*.jpg"))
    upload = next((p for p in photos if "cat" not in p.name), None)
    if upload is None:
        from PIL import Image
        import numpy as np
        import tempfile
        upload = Path(tempfile.mkdtemp()) / "vitviz-upload.png"
        Image.fromarray(np.random.default_rng(0).integers(0, 255, (256, 320, 3), dtype=np.uint8)).save(upload)
    rollout0 = src(page, "vv-rollout")
    page.set_input_files("#vv-input input[type=file]", str(upload))
    grid1 = wait_src_change(page, "vv-grid", grid0)
    rollout1 = wait_src_change(page, "vv-rollout", rollout0)
    assert grid1 != grid0 and rollout1 != rollout0

    # picking an example runs the forward pass again
    examples = page.locator(".gallery-item, button.gallery-item, [data-testid='examples'] button")
    if examples.count() > 1:
        grid_before = src(page, "vv-grid")
        examples.nth(examples.count() - 1).click()  # not the uploaded photo
        grid1 = wait_src_change(page, "vv-grid", grid_before)

    passes = len(FORWARD_PASSES)

    # 2. click a patch of the grid image → query attention, neuron view and selected patch change
    query0, neuron0, patch_text0 = src(page, "vv-query-img"), src(page, "vv-neuron"), text(page, "vv-patch")
    img = page.locator("#vv-grid img")
    img.scroll_into_view_if_needed()
    box = img.bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.1, box["y"] + box["height"] * 0.1)
    wait_src_change(page, "vv-query-img", query0)
    wait_src_change(page, "vv-neuron", neuron0)
    # (gradio shows a timer in the patch text while the click is handled: wait for the new text itself)
    wait_for(lambda: "row 1, column 1" in text(page, "vv-patch"), 20, "the patch text")
    assert text(page, "vv-patch") != patch_text0
    assert src(page, "vv-grid") != grid1  # the highlight moved

    # 3. move the layer slider → the per-head maps, distance plot and block table change
    heads0, block0 = src(page, "vv-heads"), text(page, "vv-block-md")
    slider = page.locator("#vv-layer input[type=range]")
    slider.scroll_into_view_if_needed()
    slider.focus()
    for _ in range(4):
        page.keyboard.press("ArrowRight")
    wait_src_change(page, "vv-heads", heads0)
    wait_for(lambda: "block 5 of" in text(page, "vv-block-md"), 20, "the block table for layer 5")
    assert text(page, "vv-block-md") != block0

    # ... and the head selector → the per-head views change, the layer views do not
    qheads0, heads_now = src(page, "vv-query-heads"), src(page, "vv-heads")
    page.locator("#vv-head label", has_text="2").click()
    wait_src_change(page, "vv-query-heads", qheads0)
    wait_for(lambda: "head 2" in text(page, "vv-neuron-md"), 20, "the neuron view for head 2")
    assert src(page, "vv-heads") == heads_now

    # 4. switch head fusion → the rollout overlay changes
    rollout2 = src(page, "vv-rollout")
    page.locator("#vv-fusion label", has_text="max").click()
    wait_src_change(page, "vv-rollout", rollout2)

    assert len(FORWARD_PASSES) == passes, "clicking, sliders and radios must not run the model"

    # 5. class-specific relevance (runs the model once more) and export
    assert src(page, "vv-relevance") is None
    page.locator("#vv-relevance-btn").click()
    wait_for(lambda: src(page, "vv-relevance"), 60, "the relevance map")
    assert len(FORWARD_PASSES) == passes + 1 and FORWARD_PASSES[-1] != "None"
    page.locator("#vv-export-btn").click()
    wait_for(lambda: "_analysis" in text(page, "vv-files"), 60, "the export files")
    assert ".npz" in text(page, "vv-files") and ".png" in text(page, "vv-files")

    # screenshots of every section in English at 1280×800
    for name in SECTIONS:
        section = page.locator(f"#vv-sec-{name}")
        section.scroll_into_view_if_needed()
        wait_images_loaded(page, f"#vv-sec-{name}")
        time.sleep(0.3)
        path = SHOTS / f"{SECTIONS.index(name) + 1}_{name}.png"
        section.screenshot(path=str(path))
        shrink_png(path)
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
    heads1 = src(page, "vv-heads")
    slider.focus()
    page.keyboard.press("ArrowLeft")
    wait_src_change(page, "vv-heads", heads1)

    # 7. switch language → labels and explanations are in Chinese, pictures are kept
    assert "Input and patches" in text(page, "vv-sec-input")
    rollout3 = src(page, "vv-rollout")
    page.locator("#vv-lang label", has_text="简体中文").click()
    # each section switches its own texts (one event per section): wait for every one of them
    wait_for(lambda: "输入与图像块" in text(page, "vv-sec-input"), 20, "Chinese texts")
    wait_for(lambda: "自注意力" in text(page, "vv-sec-attention"), 20, "Chinese attention texts")
    wait_for(lambda: "注意力 Rollout" in text(page, "vv-sec-rollout"), 20, "Chinese rollout texts")
    wait_for(lambda: "已选图像块" in text(page, "vv-patch"), 20, "the Chinese patch text")
    wait_for(lambda: "层" in text(page, "vv-layer") and "注意力头" in text(page, "vv-head"), 20,
             "Chinese labels")  # labels too
    assert "Input and patches" not in text(page, "vv-sec-input")
    assert src(page, "vv-rollout") == rollout3
    # and back
    page.locator("#vv-lang label", has_text="English").click()
    wait_for(lambda: "Input and patches" in text(page, "vv-sec-input"), 20, "English texts")
    assert len(FORWARD_PASSES) == passes + 1, "switching language or a failed model load ran the model"
    assert not errors, errors
    page.close()


def test_phone_width(server, browser):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 390, "height": 844}, device_scale_factor=1)
    page.goto(server)
    wait_for(lambda: src(page, "vv-rollout"), 60, "the first analysis")
    # nothing wider than the screen: pictures scale down to the column
    overflow = page.evaluate("document.documentElement.scrollWidth")
    assert overflow <= 390 + 2, overflow
    widths = page.evaluate("Array.from(document.querySelectorAll('.vv-img img')).map(i => i.getBoundingClientRect().width)")
    assert widths and max(widths) <= 390
    page.locator("#vv-sec-input").scroll_into_view_if_needed()
    wait_images_loaded(page, "#vv-sec-input")
    path = SHOTS / "7_phone_390.png"
    page.screenshot(path=str(path))
    shrink_png(path)
    page.close()
