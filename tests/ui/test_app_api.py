"""The app's API, through gradio_client against a real server on a free localhost port."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import serve_app

ROOT = Path(__file__).resolve().parents[2]
MODEL = "vit_tiny_patch16_224"


@pytest.fixture(scope="module")
def server():
    url, demo = serve_app(MODEL)
    yield url
    demo.close()


@pytest.fixture(scope="module")
def client(server):
    from gradio_client import Client
    return Client(server, verbose=False)


@pytest.fixture()
def photo(tmp_path) -> str:
    examples = sorted((ROOT / "vitviz" / "assets" / "examples").glob("*.jpg"))
    if examples:
        return str(examples[0])
    path = tmp_path / "noise.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (300, 400, 3), dtype=np.uint8)).save(path)
    return str(path)


def test_analyze_returns_predictions_and_images(client, photo):
    from gradio_client import handle_file

    label, rollout, grid, meta = client.predict(handle_file(photo), MODEL, True, api_name="/analyze")
    assert len(label["confidences"]) == 5
    assert label["label"] == label["confidences"][0]["label"]
    probs = [c["confidence"] for c in label["confidences"]]
    assert probs == sorted(probs, reverse=True) and 0 < probs[0] <= 1
    for path in (rollout, grid):
        with Image.open(path) as im:
            assert min(im.size) >= 448
    assert meta["grid"] == [14, 14] and meta["prefix_names"] == ["CLS"]
    assert "random weights" in meta["source"]


def test_model_info(client):
    info = client.predict("deit_tiny_distilled_patch16_224", True, api_name="/model_info")
    assert info["prefix_names"] == ["CLS", "DIST"] and info["num_tokens"] == 198


def test_bad_image_gets_a_clear_error_and_the_server_keeps_serving(client, photo, tmp_path):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    bad = tmp_path / "broken.png"
    bad.write_bytes(b"this is not a picture at all")
    with pytest.raises(AppError) as err:
        client.predict(handle_file(str(bad)), MODEL, True, api_name="/analyze")
    message = str(err.value)
    assert "image" in message.lower() and "Traceback" not in message
    label, *_ = client.predict(handle_file(photo), MODEL, True, api_name="/analyze")
    assert len(label["confidences"]) == 5


def test_unknown_model_gets_a_clear_error(client, photo):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError) as err:
        client.predict(handle_file(photo), "vit_tinyy_patch16_224", True, api_name="/analyze")
    assert "Unknown model name" in str(err.value)
    with pytest.raises(AppError) as err:
        client.predict("resnet50", True, api_name="/model_info")
    assert "not a plain Vision Transformer" in str(err.value)


def test_model_cache_is_an_lru():
    from vitviz.core.model_cache import ModelCache

    cache = ModelCache(size=1)
    a = cache.get(MODEL, False)
    assert cache.get(MODEL, False) is a
    cache.get("deit_tiny_distilled_patch16_224", False)
    assert (MODEL, False) not in cache
    assert ModelCache.key("vitviz-shapes", False) == ("vitviz-shapes", True)


@pytest.mark.parametrize("name", ["deit_tiny_distilled_patch16_224", "vit_little_patch16_reg4_gap_256"])
def test_every_view_renders_for_prefix_and_readout_variants(name):
    import vitviz
    from vitviz.views import pictures as V

    loaded = vitviz.load_model(name, pretrained=False)
    image = np.random.default_rng(1).integers(0, 255, (240, 320, 3), dtype=np.uint8)
    a = vitviz.analyze(loaded, image)
    info = a.info
    for lang in ("en", "zh"):
        s = V.ViewSettings(lang=lang, layer=info.depth - 1, head=info.num_heads - 1, patch=V.default_patch(info),
                           query=info.prefix_names[-1], fusion="max", discard=0.5)
        texts = [V.input_text(info, lang), V.shape_table(info, lang), V.position_text(info, lang),
                 V.attention_text(info, lang), V.rollout_text(info, lang), V.prediction_text(info, lang, True),
                 V.block_text(a, s, loaded.model), V.distance_text(info, lang)]
        assert all(isinstance(t, str) and t for t in texts)
        assert f"({info.num_tokens}, {info.embed_dim})" in V.shape_table(info, lang)
        md, fig = V.neuron_view(loaded.model, a, s)
        assert fig.dtype == np.uint8 and md
    pictures = [V.grid_image(a, (0, 0)), V.strip_image(a), V.filters_image(a), V.position_all_image(a),
                V.position_patch_image(a, (1, 2)), V.layer_heads_image(a, 0), V.overview_image(a, 1),
                V.query_image(a, s), V.distance_image(a, 0), V.block_stats_image(a, 0),
                V.rollout_image(a, "min", 0.3), V.head_rollout_image(a)]
    for pic in pictures:
        assert pic.ndim == 3 and pic.shape[2] == 3 and pic.dtype == np.uint8
    f = V.display_factor(a)
    gh, gw = info.grid
    ph, pw = info.patch_size
    assert V.patch_at_display_pixel(a, (pw * (gw - 1) + 1) * f, 1) == (0, gw - 1)
    assert len(V.prediction_label(a)) == 5


def test_views_for_a_small_embedded_style_model(tmp_path, monkeypatch):
    """A model shaped like the embedded one (112 px, 8 px patches, 4 classes) renders everywhere."""
    import json

    import torch
    from safetensors.torch import save_file
    from timm.models.vision_transformer import VisionTransformer

    import vitviz
    import vitviz.core.model as vm
    from vitviz.core.model_cache import ModelCache
    from vitviz.ui.sections import input as ui_input
    from vitviz.views import pictures as V

    args = dict(img_size=112, patch_size=8, in_chans=3, num_classes=4, embed_dim=32, depth=2, num_heads=2,
                mlp_ratio=2.0, qkv_bias=True, class_token=True, global_pool="token")
    torch.manual_seed(0)
    model = VisionTransformer(**args)
    names = ["circle", "square", "triangle", "star"]
    card = {"name": vitviz.EMBEDDED_MODEL, "model_args": args, "class_names": names,
            "pretrained_cfg": {"input_size": [3, 112, 112], "mean": [0.5] * 3, "std": [0.5] * 3, "crop_pct": 1.0,
                               "interpolation": "bilinear", "num_classes": 4}}
    (tmp_path / f"{vitviz.EMBEDDED_MODEL}.json").write_text(json.dumps(card))
    save_file({k: v.contiguous() for k, v in model.state_dict().items()},
              str(tmp_path / f"{vitviz.EMBEDDED_MODEL}.safetensors"))
    monkeypatch.setattr(vm, "MODELS_DIR", tmp_path)
    monkeypatch.delenv("VITVIZ_MODEL", raising=False)
    start = vm.choose_default_model(env={}, online=lambda: False)
    assert (start.name, start.pretrained) == (vitviz.EMBEDDED_MODEL, True) and "unreachable" in start.reason
    assert ui_input.model_choices()[0] == vitviz.EMBEDDED_MODEL

    loaded = ModelCache().get(vitviz.EMBEDDED_MODEL, False)
    a = vitviz.analyze(loaded, np.zeros((80, 120, 3), np.uint8))
    assert a.info.grid == (14, 14) and len(a.predictions) == 4
    s = V.ViewSettings(layer=1, head=1, patch=(13, 13))
    assert V.display_factor(a) * 112 >= 448
    assert V.patch_at_display_pixel(a, 447, 447) == (13, 13)
    for pic in (V.grid_image(a, s.patch), V.query_image(a, s), V.rollout_image(a, "mean", 0.0),
                V.position_all_image(a), V.overview_image(a, 1), V.block_stats_image(a, 1)):
        assert pic.dtype == np.uint8 and min(pic.shape[:2]) >= 100
    assert "(112, 112, 3)" in V.shape_table(a.info, "en") and "(4,)" in V.shape_table(a.info, "zh")
    assert [c[1] for c in V.class_choices(a)] == [p.index for p in a.predictions]


def test_views_for_a_model_without_a_head():
    """DINO backbones (num_classes=0): no predictions, the texts say so, everything else renders."""
    import vitviz
    from vitviz.views import pictures as V

    loaded = vitviz.load_model("vit_small_patch16_224.dino", pretrained=False)
    a = vitviz.analyze(loaded, np.zeros((64, 64, 3), np.uint8))
    assert a.predictions == ()
    assert V.prediction_label(a) == {} and V.class_choices(a) == []
    for lang in ("en", "zh"):
        assert "num_classes = 0" in V.prediction_text(a.info, lang)
        assert "(384,)" in V.shape_table(a.info, lang) and "(0,)" not in V.shape_table(a.info, lang)
    assert V.rollout_image(a, "mean", 0.0).dtype == np.uint8


def test_image_upload_reaches_the_handler_unopened(tmp_path):
    """A corrupt upload must reach vitviz.load_image (one clear sentence), not fail inside gradio."""
    from gradio.data_classes import FileData
    from vitviz.ui import build_demo

    demo = build_demo()
    image_in = next(b for b in demo.blocks.values() if getattr(b, "elem_id", None) == "vv-input")
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"not a png at all")
    assert image_in.preprocess(FileData(path=str(bad), orig_name="broken.png")) == str(bad)
    assert not list((ROOT / "vitviz" / "ui").rglob("*.pyi"))  # gradio writes stubs for subclasses


def test_the_upload_stays_unopened_after_the_input_is_updated(tmp_path):
    """After an update of the input's properties (its label, its alt text: on page load, on a language
    switch) gradio preprocesses with a copy rebuilt from the constructor's arguments. That copy must hand
    the path over untouched too; gradio's own preprocess rewrites the file in place while a second
    change of the same upload is reading it ("The file is empty.")."""
    import gradio as gr
    from gradio.data_classes import FileData
    from vitviz.ui import build_demo

    image_in = next(b for b in build_demo().blocks.values() if getattr(b, "elem_id", None) == "vv-input")
    rebuilt = gr.Image(**{**image_in.constructor_args, "label": "图像", "render": False})  # as gradio does
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"not a png at all")
    assert rebuilt.preprocess(FileData(path=str(bad), orig_name="broken.png")) == str(bad)
    assert bad.read_bytes() == b"not a png at all"
    other = gr.Image(type="filepath", render=False)  # every other gr.Image keeps gradio's behaviour
    with pytest.raises(Exception):
        other.preprocess(FileData(path=str(bad), orig_name="broken.png"))


@pytest.mark.parametrize("env, workers", [(None, 2), ("4", 4)])
def test_queue_runs_two_requests_at_a_time_unless_configured(monkeypatch, env, workers):
    from vitviz.ui import build_demo, configure_queue
    monkeypatch.setenv("VITVIZ_MODEL", "vit_tiny_patch16_224")
    if env is None:
        monkeypatch.delenv("VITVIZ_CONCURRENCY", raising=False)
    else:
        monkeypatch.setenv("VITVIZ_CONCURRENCY", env)
    demo = configure_queue(build_demo())
    assert demo._queue.default_concurrency_limit == workers and demo._queue.max_size == 32
