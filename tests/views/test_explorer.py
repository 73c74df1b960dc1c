"""The explorer's payload: what the browser decodes equals the analysis, within the budget."""
import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch

import vitviz
from vitviz.analysis import attention as att
from vitviz.views import explorer as X

TOLERANCE = 0.005  # of each row's maximum


def assert_close_per_row(decoded: np.ndarray, expected: np.ndarray) -> None:
    expected = np.asarray(expected, dtype=np.float32)
    assert decoded.shape == expected.shape
    row_max = np.abs(expected).max(axis=-1, keepdims=True)
    assert np.all(np.abs(decoded - expected) <= TOLERANCE * row_max + 1e-12)


def test_every_layer_decodes_to_the_analysis_attention(tiny_analysis):
    a = tiny_analysis
    p0 = a.info.num_prefix_tokens
    for layer in range(a.info.depth):
        part = X.explorer_part(a, f"layer:{layer}")
        assert_close_per_row(X.decode_rows(part["patches"]), a.attention[layer][..., p0:])
        assert_close_per_row(X.decode_rows(part["prefix"]), a.attention[layer][..., :p0])


def test_the_readout_rows_and_head_rollouts_decode_to_the_analysis(tiny_analysis):
    a = tiny_analysis
    L, H = a.cls_attention.shape[:2]
    assert_close_per_row(X.decode_rows(X.explorer_part(a, "readout")["readout"]), a.cls_attention.reshape(L, H, -1))
    head = X.decode_rows(X.explorer_part(a, "rollout")["head_rollout"])
    assert_close_per_row(head, a.head_rollout.reshape(L, H, -1))


def test_the_first_views_parts_are_raw_and_decode_to_the_same_values(tiny_analysis):
    """Sent inside the component's value, decoded synchronously in the browser: no deflate, raw RGB."""
    a = tiny_analysis
    for name in ("readout", "layer:1"):
        first, later = X.explorer_part(a, name, first_view=True), X.explorer_part(a, name)
        for key in set(first) - {"layer"}:
            assert first[key]["codec"] == "raw" and later[key]["codec"] == "deflate"
            np.testing.assert_array_equal(X.decode_rows(first[key]), X.decode_rows(later[key]))
    pixels = X.explorer_part(a, "meta", first_view=True)["pixels"]
    import base64
    rgb = np.frombuffer(base64.b64decode(pixels["rgb"]), np.uint8).reshape(pixels["height"], pixels["width"], 3)
    np.testing.assert_array_equal(rgb, a.image)
    assert "image" in X.explorer_part(a, "meta") and "pixels" not in X.explorer_part(a, "meta")


def test_the_rollout_part_holds_all_sixty_fusion_and_discard_settings(tiny_analysis):
    a = tiny_analysis
    maps = X.decode_rows(X.explorer_part(a, "rollout")["rollout"])
    assert maps.shape == (3, 20, a.info.num_patches)
    for f, fusion in enumerate(att.FUSIONS):
        for d in (0, 9, 19):
            assert_close_per_row(maps[f, d], a.rollout_map(fusion, att.discard_steps()[d]).ravel())



def test_the_first_views_rollout_is_the_analysis_own_map_as_the_whole_part_holds_it(photo):
    model = vitviz.load_model("vit_tiny_patch16_224", pretrained=False, depth=2)
    a = vitviz.analyze(model, photo, fusion="max", discard_ratio=0.35)
    own, whole = X.explorer_part(a, "rollout:own", first_view=True), X.explorer_part(a, "rollout")
    assert own["fusions"] == ["max"] and own["steps"] == [7] and own["rollout"]["codec"] == "raw"
    assert whole["fusions"] == list(att.FUSIONS) and whole["steps"] == list(range(20))
    assert_close_per_row(X.decode_rows(own["rollout"])[0, 0], a.rollout.ravel())
    assert_close_per_row(X.decode_rows(whole["rollout"])[1, 7], a.rollout.ravel())


def test_an_analysis_between_two_discard_steps_brings_the_nearest_steps_map(photo):
    model = vitviz.load_model("vit_tiny_patch16_224", pretrained=False, depth=2)
    a = vitviz.analyze(model, photo, discard_ratio=0.33)
    own = X.explorer_part(a, "rollout:own")
    assert own["steps"] == [7]
    assert_close_per_row(X.decode_rows(own["rollout"])[0, 0], a.rollout_map("mean", 0.35).ravel())


def test_register_tokens_travel_apart_from_the_patch_keys(photo):
    model = vitviz.load_model("vit_tiny_patch16_224", pretrained=False, depth=2, reg_tokens=4)
    a = vitviz.analyze(model, photo)
    part = X.explorer_part(a, "layer:1")
    assert part["prefix"]["shape"] == [3, 201, 5] and part["patches"]["shape"] == [3, 201, 196]
    assert X.explorer_part(a, "meta")["prefix"] == list(a.info.prefix_names)


def test_meta_gives_the_model_geometry_and_the_figures_colour_table(tiny_analysis):
    from vitviz import render as R

    meta = X.explorer_part(tiny_analysis, "meta")
    assert (meta["grid"], meta["depth"], meta["heads"], meta["tokens"]) == ([14, 14], 12, 3, 197)
    lut = np.frombuffer(bytes.fromhex(meta["lut"]), dtype=np.uint8).reshape(256, 3)
    assert np.array_equal(lut, R.colormap_lut())
    assert meta["discards"] == [round(0.05 * i, 10) for i in range(20)]


def test_an_unknown_part_or_layer_is_refused(tiny_analysis):
    for name in ("layer:12", "layer:-1", "everything"):
        with pytest.raises(ValueError):
            X.explorer_part(tiny_analysis, name)


def _json_mb(part: dict) -> float:
    return len(json.dumps(part)) / 2**20


@pytest.mark.slow
def test_the_first_payload_of_vit_b16_is_at_most_3_mb(photo):
    a = vitviz.analyze(vitviz.load_model("vit_base_patch16_224", pretrained=False), photo)
    first = sum(_json_mb(X.explorer_part(a, name, first_view=True)) for name in ("meta", "readout", "rollout:own", "layer:0"))
    assert first <= 3.0  # in the form that travels with the analysis (not deflated)


def test_one_layer_of_vit_l16_at_384_is_at_most_8_mb():
    """Worst case for compression: random attention rows, 16 heads × 577 tokens."""
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(16, 577, 577)).astype(np.float32)
    rows = torch.softmax(torch.from_numpy(logits), -1).numpy()
    a = SimpleNamespace(attention=rows[None], info=SimpleNamespace(num_prefix_tokens=1))
    assert _json_mb(X.layer_part(a, 0)) <= 8.0
    assert X.layer_part(a, 0, first_view=True)["patches"]["codec"] == "deflate"  # too big to go raw
