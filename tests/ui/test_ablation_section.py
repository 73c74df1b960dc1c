"""Section 7 with patches: the patch picker, running with patches (and heads) off, clearing, the
ablated rollout picture — through the section's handlers and views, without a browser."""
import numpy as np
import pytest
import torch

import vitviz
from vitviz.analysis.ablation import ablate
from vitviz.ui.page import MODELS, Session
from vitviz.ui.sections import ablation
from vitviz.views import ablation as AV
from vitviz.views import pictures as V
from vitviz.views.common import display_factor

MODEL = "vit_tiny_patch16_224"


@pytest.fixture(scope="module")
def sess(photo):
    a = vitviz.analyze(MODELS.get(MODEL, False), photo)
    return Session(analysis=a, model_key=(MODEL, False), source={"en": "test"})


def patch_centre(a, row, col):
    """Display pixel [x, y] at the centre of patch (row, col) of the patch picker."""
    f, (ph, pw) = display_factor(a), a.info.patch_size
    return [int((col + 0.5) * pw * f), int((row + 0.5) * ph * f)]


def hatched(picture, a, index) -> bool:
    """True when patch `index` of a picker-sized picture shows the grey hatching of removed patches."""
    f, (ph, pw) = display_factor(a), a.info.patch_size
    r, c = divmod(index, a.info.grid[1])
    tile = picture[r * ph * f:(r + 1) * ph * f, c * pw * f:(c + 1) * pw * f]
    return bool((tile == V.HATCH).all(-1).mean() > 0.2)


def test_a_click_switches_a_patch_off_and_a_second_click_on_again(sess):
    s, a = V.ViewSettings(), sess.analysis
    index = 3 * a.info.grid[1] + 5
    first = ablation.on_pick_patch(s, sess, patch_centre(a, 3, 5), [])
    assert first["off_patches_state"] == [index] and "(3, 5)" in first["patches_md"]
    assert hatched(first["patch_picker_img"], a, index) and not hatched(first["patch_picker_img"], a, index + 1)
    again = ablation.on_pick_patch(s, sess, patch_centre(a, 3, 5), first["off_patches_state"])
    assert again["off_patches_state"] == [] and not hatched(again["patch_picker_img"], a, index)


def test_running_with_patches_off_shows_the_ablated_models_top5_and_delta(sess):
    a = sess.analysis
    off = [0, 1, 2, 50]
    out = ablation.on_run(V.ViewSettings(), sess, [], "zero", off)
    expected = ablate(MODELS.get(MODEL, False), a.input, patches=off)
    probs = torch.from_numpy(expected.logits).softmax(-1).numpy()
    top = a.predictions[0]
    assert out["ablated_label"] == pytest.approx(V.probabilities_label(a, probs))
    assert f"4 of {a.info.num_patches} patches removed" in out["result_md"]
    assert f"{probs[top.index] - top.probability:+.1%}" in out["result_md"]


def test_the_ablated_rollout_picture_hatches_the_removed_patches(sess):
    a = sess.analysis
    out = ablation.on_run(V.ViewSettings(), sess, [], "zero", [7])
    picture = out["ablated_img"]
    assert picture.shape[1] == a.image.shape[1] * display_factor(a)  # the input's width; the colour bar below
    assert hatched(picture, a, 7) and not hatched(picture, a, 8)


def test_running_with_heads_and_patches_off_names_both(sess):
    out = ablation.on_run(V.ViewSettings(), sess, [[0, 1]], "mean", [10, 11])
    assert "L1 h2" in out["result_md"] and "2 of 196 patches removed" in out["result_md"]


def test_the_result_follows_the_language(sess):
    out = ablation.on_run(V.ViewSettings(lang="zh"), sess, [], "zero", [10])
    assert "去掉 196 个图像块中的 1 个" in out["result_md"]


def test_clear_switches_every_head_and_patch_back_on(sess):
    out = ablation.on_clear(V.ViewSettings(), sess)
    assert out["off_state"] == [] and out["off_patches_state"] == []
    assert not any(hatched(out["patch_picker_img"], sess.analysis, i) for i in range(sess.analysis.info.num_patches))


def test_a_new_analysis_switches_every_patch_back_on(sess):
    out = ablation.pictures(V.ViewSettings(), sess)
    assert out["off_patches_state"] == [] and out["patch_picker_img"].shape == V.grid_image(sess.analysis).shape


def test_the_wired_patch_picker_and_run_button_pass_the_patch_state(sess):
    """Through the gradio adapters of the built page: a click writes the patch state, the run reads it."""
    import os
    from types import SimpleNamespace

    from vitviz.ui import build_demo

    saved = {k: os.environ.get(k) for k in ("VITVIZ_MODEL", "VITVIZ_RANDOM_WEIGHTS")}
    os.environ.update(VITVIZ_MODEL=MODEL, VITVIZ_RANDOM_WEIGHTS="1")
    try:
        demo = build_demo()
    finally:
        for k, v in saved.items():
            os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)
    page, c = demo.vitviz_page, demo.vitviz_sections["ablation"]
    fns = {getattr(f.fn, "__name__", ""): f.fn for f in demo.fns.values()}
    values = {page.lang: "en", page.view: {}, page.patch: [0, 0], page.session: sess, c["off_state"]: [],
              c["off_patches_state"]: [], c["mode_rd"]: "zero"}
    picked = fns["on_pick_patch"](values, SimpleNamespace(index=patch_centre(sess.analysis, 0, 2)))
    assert picked[c["off_patches_state"]] == [2]
    values[c["off_patches_state"]] = picked[c["off_patches_state"]]
    ran = fns["on_run"](values, progress=None)
    assert "1 of 196 patches removed" in ran[c["result_md"]]


def test_a_language_switch_rewords_what_is_switched_off(sess):
    zh = ablation.on_lang(V.ViewSettings(lang="zh"), sess, [[0, 1]], [5])
    en = ablation.on_lang(V.ViewSettings(lang="en"), sess, [[0, 1]], [5])
    assert zh["picked_md"] == ablation.heads_text({(0, 1)}, "zh") != en["picked_md"]
    assert zh["patches_md"] == ablation.patches_text(sess.analysis, {5}, "zh") != en["patches_md"]
    none = ablation.on_lang(V.ViewSettings(lang="zh"), sess, [], [])
    assert none["picked_md"] != ablation.heads_text(set(), "en")


def test_head_importance_takes_the_switched_off_patches_into_account(sess):
    a = sess.analysis
    off = [0, 1, 2, 50]
    out = ablation.on_importance(V.ViewSettings(), sess, "zero", off)
    assert f"4 of {a.info.num_patches} patches switched off" in out["importance_md"]
    plain = ablation.on_importance(V.ViewSettings(), sess, "zero", [])
    assert "switched off removed" not in plain["importance_md"]
