"""Serving under load: concurrent users stay isolated, memory and hooks stay flat over a soak."""
import os
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import serve_app

ROOT = Path(__file__).resolve().parents[1]
MODELS = ("vit_tiny_patch16_224", "deit_tiny_distilled_patch16_224")
# The soak serves the embedded fashion model: what it watches (memory, hooks, temp files) is the
# server's, and a request costs a third of one with vit_tiny (0.6 vs 1.7 s measured side by side).
SOAK_MODEL = "vitviz-fashion"
SOAK_REQUESTS = int(os.environ.get("VITVIZ_SOAK_REQUESTS", "400"))  # 300 after warm-up; more with the variable


@pytest.fixture(scope="module")
def server():
    url, demo = serve_app(MODELS[0])
    yield url
    demo.close()


@pytest.fixture(scope="module")
def soak_server(tmp_path_factory):
    """A server with its own temp folder, cleaned every 2 s of files older than 10 s."""
    saved = os.environ.get("GRADIO_TEMP_DIR")
    os.environ["GRADIO_TEMP_DIR"] = str(tmp_path_factory.mktemp("gradio-soak"))
    os.environ["VITVIZ_DELETE_CACHE"] = "2,10"
    try:
        url, demo = serve_app(SOAK_MODEL)
    finally:
        del os.environ["VITVIZ_DELETE_CACHE"]
    yield url
    demo.close()
    if saved is None:
        os.environ.pop("GRADIO_TEMP_DIR")
    else:
        os.environ["GRADIO_TEMP_DIR"] = saved


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> list[str]:
    """Eight different pictures: the example photos and generated ones."""
    d = tmp_path_factory.mktemp("imgs")
    paths = [str(p) for p in sorted((ROOT / "vitviz" / "assets" / "examples").glob("*.jpg"))[:4]]
    rng = np.random.default_rng(0)
    while len(paths) < 8:
        p = d / f"noise{len(paths)}.png"
        Image.fromarray(rng.integers(0, 255, (200 + 10 * len(paths), 260, 3), dtype=np.uint8)).save(p)
        paths.append(str(p))
    return paths


def analyze(url: str, image: str, model: str):
    from gradio_client import Client, handle_file
    label, rollout, grid, meta = Client(url, verbose=False).predict(
        handle_file(image), model, True, api_name="/analyze")
    return meta["predictions"], np.asarray(Image.open(rollout)), meta["model"]


def registered_hooks() -> int:
    from vitviz.ui.page import MODELS as cache
    total = 0
    for loaded in list(cache._models.values()):
        total += sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in loaded.model.modules())
    return total


def test_sixteen_concurrent_users_each_get_their_own_result(server, images):
    jobs = [(images[i % len(images)], MODELS[i % 2]) for i in range(16)]
    expected = {job: analyze(server, *job) for job in set(jobs)}  # one user at a time
    results: dict[int, tuple] = {}
    errors: list[BaseException] = []

    def user(i: int) -> None:
        try:
            results[i] = analyze(server, *jobs[i])
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=user, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors and not any(t.is_alive() for t in threads)
    for i, job in enumerate(jobs):
        preds, rollout, model = results[i]
        want_preds, want_rollout, want_model = expected[job]
        assert model == want_model == job[1]
        assert [p["index"] for p in preds] == [p["index"] for p in want_preds]
        np.testing.assert_allclose([p["probability"] for p in preds], [p["probability"] for p in want_preds], rtol=1e-5)
        np.testing.assert_array_equal(rollout, want_rollout)
    assert registered_hooks() == 0


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS")) / 1024


def test_soak_keeps_memory_hooks_and_temp_files_flat(soak_server, images, tmp_path):
    from gradio_client import Client, handle_file
    from gradio.utils import get_upload_folder
    client = Client(soak_server, verbose=False, download_files=str(tmp_path / "downloads"))  # copies elsewhere
    pictures = [np.asarray(Image.open(p).convert("RGB")) for p in images]
    upload = tmp_path / "upload.png"
    warm = 100  # allocator pools and caches fill during the first requests, then RSS is flat
    for i in range(SOAK_REQUESTS):
        # a different picture every time (one pixel changed), so uploads and outputs are all new files
        picture = pictures[i % len(pictures)].copy()
        picture[0, 0] = (i % 256, i // 256 % 256, 7)
        Image.fromarray(picture).save(upload)
        client.predict(handle_file(str(upload)), SOAK_MODEL, True, api_name="/analyze")
        if i == warm - 1:
            baseline = rss_mb()
            cached = cached_bytes(get_upload_folder())
    growth = rss_mb() - baseline
    assert growth <= 50, f"RSS grew {growth:.0f} MB over {SOAK_REQUESTS - warm} requests"
    assert registered_hooks() == 0
    # gradio's delete_cache removes this app's temp files: disk use does not pile up per request
    # (without it, every request leaves its upload and output pictures behind). gradio's upload
    # route also leaves one empty placeholder file per upload: zero bytes.
    time.sleep(13)
    assert cached_bytes(get_upload_folder()) - cached <= 2 * os.path.getsize(upload)


def cached_bytes(folder) -> int:
    return sum(os.path.getsize(os.path.join(d, n)) for d, _, names in os.walk(folder) for n in names)


def test_identical_output_pictures_are_never_rewritten_while_being_downloaded(tmp_path, monkeypatch):
    """Two users getting the same picture: the second must not rewrite the file the first may
    still be downloading (gradio's own `write_bytes` truncates it mid-download)."""
    import gradio as gr
    from vitviz.ui.gradio_fixes import serve_outputs_atomically
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path))
    image = serve_outputs_atomically(gr.Image(format="png"))
    picture = np.random.default_rng(0).integers(0, 255, (64, 80, 3), dtype=np.uint8)
    first = Path(image.postprocess(picture).path)
    assert np.array_equal(np.asarray(Image.open(first)), picture)
    first.write_bytes(b"bytes a user is still downloading")
    second = Path(image.postprocess(Image.fromarray(picture)).path)
    assert second == first
    assert first.read_bytes() == b"bytes a user is still downloading"
    assert [p.name for p in first.parent.iterdir()] == ["image.png"], "no staging files left behind"


def test_every_output_picture_of_the_app_is_served_atomically(tmp_path, monkeypatch):
    import gradio as gr
    from vitviz.ui import build_demo
    monkeypatch.setenv("VITVIZ_MODEL", MODELS[0])
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path))
    demo = build_demo()
    outputs = [b for b in demo.blocks.values() if isinstance(b, gr.Image) and b.elem_id != "vv-input"]
    assert len(outputs) >= 15
    for n, block in enumerate(outputs):
        picture = np.full((8, 8, 3), n, np.uint8)
        path = Path(block.postprocess(picture).path)
        path.write_bytes(b"in use")
        assert Path(block.postprocess(picture).path) == path and path.read_bytes() == b"in use", block.label


def test_cache_cleanup_survives_files_added_during_a_sweep(tmp_path):
    """gradio 6.31 walks its live temp-file sets while requests add to them ("Set changed size
    during iteration" ends its delete_cache task for good); the guarded sweep works on snapshots."""
    from types import SimpleNamespace
    from gradio import route_utils
    from vitviz.ui.gradio_fixes import guard_cache_cleanup
    guard_cache_cleanup()
    old = {str(tmp_path / f"old{i}") for i in range(20000)}
    for path in old:
        Path(path).touch()
    files = set(old)
    added, sweeping = [], threading.Event()

    def add_while_sweeping():  # a request thread registering new outputs
        sweeping.wait()
        while sweeping.is_set():
            added.append(str(tmp_path / f"new{len(added)}"))
            files.add(added[-1])
            time.sleep(0.001)  # a request's pace: a spinning thread would starve the sweep of the GIL

    adder = threading.Thread(target=add_while_sweeping)
    adder.start()
    sweeping.set()
    try:
        route_utils.delete_files_created_by_app(SimpleNamespace(blocks={}, temp_file_sets=[files]), 0)
    finally:
        sweeping.clear()
        adder.join()
    assert added, "no file was added during the sweep"
    assert not any(Path(p).exists() for p in old) and not files & old
    assert set(added) <= files


def test_a_failing_cache_sweep_is_logged_and_does_not_end_the_task(monkeypatch, caplog):
    from types import SimpleNamespace
    from gradio import route_utils
    from vitviz.ui.gradio_fixes import guard_cache_cleanup

    def broken(blocks, age):
        raise OSError("disk gone")

    monkeypatch.setattr(route_utils, "delete_files_created_by_app", broken)
    guard_cache_cleanup()
    route_utils.delete_files_created_by_app(SimpleNamespace(blocks={}, temp_file_sets=[{"x"}]), 0)
    assert "temp-file cleanup failed" in caplog.text


def test_guarding_the_cache_cleanup_twice_wraps_it_once():
    from gradio import route_utils
    from vitviz.ui.gradio_fixes import guard_cache_cleanup
    guard_cache_cleanup()
    first = route_utils.delete_files_created_by_app
    guard_cache_cleanup()
    assert route_utils.delete_files_created_by_app is first
