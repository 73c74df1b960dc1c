"""Shared fixtures: small random-init models, built once per session (no model hub)."""
import numpy as np
import pytest
import torch

import vitviz


@pytest.fixture(scope="session")
def tiny():
    """vit_tiny_patch16_224, random init: 12 blocks, 3 heads, 14×14 grid, 197 tokens."""
    torch.manual_seed(0)
    return vitviz.load_model("vit_tiny_patch16_224", pretrained=False)


@pytest.fixture(scope="session")
def photo() -> np.ndarray:
    """A smooth, non-square RGB test picture (H×W×3 uint8) with structure for attention."""
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:240, 0:320] / 40.0
    img = np.stack([np.sin(x) * 0.5 + 0.5, np.cos(y) * 0.5 + 0.5, np.sin(x + y) * 0.5 + 0.5], -1)
    img += rng.normal(0, 0.05, img.shape)
    return (np.clip(img, 0, 1) * 255).astype(np.uint8)


@pytest.fixture(scope="session")
def tiny_analysis(tiny, photo):
    return vitviz.analyze(tiny, photo, relevance_class="top")


# Debian's Chromium for the browser tests (never a downloaded browser build).
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium through Playwright, one per test module."""
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


def free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_app(model: str, random_weights: bool = True):
    """Start the app in this process on a free localhost port → (url, demo); the caller closes it."""
    import os
    from vitviz.core.runtime import return_large_buffers_to_os
    from vitviz.ui import build_demo, configure_queue, launch_kwargs

    return_large_buffers_to_os()  # as `python app.py` does

    saved = {k: os.environ.get(k) for k in ("VITVIZ_MODEL", "VITVIZ_RANDOM_WEIGHTS")}
    os.environ.update(VITVIZ_MODEL=model, VITVIZ_RANDOM_WEIGHTS="1" if random_weights else "0")
    try:
        demo = configure_queue(build_demo())  # reads the default model from the environment
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    port = free_port()
    demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=port, quiet=True, **launch_kwargs())
    return f"http://127.0.0.1:{port}/", demo


# The fast tier is `pytest -m "not slow and not browser"` (under 2 minutes on 2 cores).
BROWSER_FILES = {"test_browser.py", "test_lesson_browser.py"}
SLOW_TESTS = {
    "test_soak_keeps_memory_hooks_and_temp_files_flat", "test_accuracy_target", "test_explanation_mosaic",
    "test_cli_module_runs", "test_sixteen_concurrent_users_each_get_their_own_result",
    "test_family_geometry_and_analysis_shapes", "test_cli_succeeds_and_prints_top5",
    "test_cli_bad_image_is_one_line_on_stderr", "test_cli_unknown_model_is_one_line_on_stderr",
    "test_analyze_returns_predictions_and_images", "test_any_loadable_image_gives_finite_normalised_maps",
    "test_deleting_object_patches_first_hurts_the_embedded_model_more_than_random_order",
    "test_report_scores_every_method_and_a_random_baseline", "test_cache_cleanup_survives_files_added_during_a_sweep",
    "test_faithfulness_views", "test_rollout_finds_object", "test_random_weights_fail_the_bar",
    "test_card_numbers_match_weights", "test_cli_writes_figures",
}


def pytest_collection_modifyitems(items):
    for item in items:
        if item.path.name in BROWSER_FILES:
            item.add_marker(pytest.mark.browser)
            item.add_marker(pytest.mark.slow)
        elif item.originalname in SLOW_TESTS:
            item.add_marker(pytest.mark.slow)
