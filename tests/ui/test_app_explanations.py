"""Section 7 of the app ("Can we trust it?"): explanation mosaic, faithfulness curves, what-if."""
from __future__ import annotations

import os

import numpy as np
import pytest

import vitviz
from vitviz.views import pictures as V
from vitviz.views.text import TEXT, tr

NEW_KEYS = ("sec_g", "expl_g", "explain_class", "explain_button", "img_explanations", "explaining", "explain_done",
            "sub_faith", "expl_faith", "faith_mode", "faith_pixels", "faith_tokens", "expl_faith_mode",
            "faith_button", "img_faith", "faith_running", "auc_title", "auc_head", "sub_whatif", "expl_whatif",
            "whatif_mode", "whatif_drop", "whatif_keep", "whatif_reset", "img_whatif", "whatif_label",
            "whatif_status", "whatif_full")


@pytest.fixture(scope="module")
def small():
    import torch
    torch.manual_seed(0)
    return vitviz.load_model("vit_tiny_patch16_224", pretrained=False, depth=2)


@pytest.fixture(scope="module")
def small_analysis(small, photo):
    return vitviz.analyze(small, photo)


@pytest.fixture(scope="module")
def maps(small, small_analysis):
    from vitviz.ui.sections.trust import explanation_maps
    return explanation_maps(small, small_analysis, small_analysis.predictions[0].index)


def _is_picture(img) -> bool:
    return isinstance(img, np.ndarray) and img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3


def test_explanation_mosaic(small, small_analysis, maps):
    from vitviz.analysis.explain import METHODS
    from vitviz.ui.sections.trust import explanation_maps

    found, seconds = maps
    assert list(found) == list(METHODS) and set(seconds) == set(METHODS)
    for m in found.values():
        assert m.shape == small_analysis.info.grid and 0.0 <= m.min() and m.max() <= 1.0
    img = V.explanations_image(small_analysis, found, seconds)
    assert _is_picture(img) and img.shape[1] >= 400
    # cached per analysis and class: the second call does not recompute
    assert explanation_maps(small, small_analysis, small_analysis.predictions[0].index)[0] is found


@pytest.mark.parametrize("mode", ["pixels", "tokens"])
def test_faithfulness_views(small, small_analysis, maps, mode):
    from vitviz.ui.sections.trust import faithfulness_curves

    seen = []
    target = small_analysis.predictions[0].index
    found = faithfulness_curves(small, small_analysis, maps[0], target, mode, progress=seen.append)
    methods = {c.method for c in found}
    assert V.RANDOM_BASELINE in methods and set(maps[0]) <= methods
    assert {c.kind for c in found} == {"deletion", "insertion"} and {c.mode for c in found} == {mode}
    assert seen and seen[-1] == pytest.approx(1.0)
    assert _is_picture(V.faithfulness_image(found))
    for lang in ("en", "zh"):
        table = V.auc_table(found, "x", mode, lang)
        assert all(f"| {m} |" in table for m in methods)
        assert tr("faith_pixels" if mode == "pixels" else "faith_tokens", lang) in table


def test_what_if_without_drops_reproduces_the_top5(small, small_analysis):
    from vitviz.ui.sections.trust import what_if_outputs

    label, img, text = what_if_outputs(small, small_analysis, [], "drop")
    expected = V.prediction_label(small_analysis)
    assert list(label) == list(expected)
    assert np.allclose(list(label.values()), list(expected.values()), atol=1e-4)
    assert _is_picture(img) and img.shape == V.grid_image(small_analysis, None).shape
    assert text
    # the same picture as the no-forward one shown when the image is analysed
    full = V.what_if_image(small_analysis, small_analysis.rollout, np.ones(small_analysis.info.grid, bool))
    assert np.abs(img.astype(int) - full.astype(int)).max() <= 2


def test_dropping_patches_changes_the_rollout_picture(small, small_analysis):
    from vitviz.ui.sections.trust import what_if_outputs

    _, full, _ = what_if_outputs(small, small_analysis, [], "drop")
    _, dropped, text = what_if_outputs(small, small_analysis, [0, 1, 14, 15, 100], "drop", "zh")
    assert dropped.shape == full.shape and not np.array_equal(dropped, full)
    p = small_analysis.info.num_patches
    assert f"{p - 5}" in text
    _, kept, _ = what_if_outputs(small, small_analysis, [0, 1, 14, 15, 100], "keep")
    assert not np.array_equal(kept, dropped)
    # a click maps back to the patch under it (same geometry as the patch grid picture)
    f = V.display_factor(small_analysis)
    ph, pw = small_analysis.info.patch_size
    assert V.patch_at_display_pixel(small_analysis, (3 * pw + 2) * f, (2 * ph + 2) * f) == (2, 3)


def test_every_new_string_has_english_and_chinese():
    for key in NEW_KEYS:
        assert TEXT[key].get("en") and TEXT[key].get("zh"), key
        assert TEXT[key]["en"] != TEXT[key]["zh"], key


def _check_trust_texts_in_chinese(out, name_of) -> None:
    """`out`: the trust section's language-switch outputs; `name_of(name)`: the key for a component name."""
    assert name_of("g_md") in out and tr("sec_g", "zh") in out[name_of("g_md")]
    for name, key in (("explain_btn", "explain_button"), ("faith_btn", "faith_button"),
                      ("whatif_reset_btn", "whatif_reset")):
        assert out[name_of(name)]["value"] == tr(key, "zh")
    for name, key in (("explain_img", "img_explanations"), ("faith_img", "img_faith"),
                      ("whatif_img", "img_whatif"), ("whatif_label", "whatif_label"),
                      ("expl_class_dd", "explain_class")):
        assert out[name_of(name)]["label"] == tr(key, "zh")
    assert dict((v, k) for k, v in out[name_of("faith_mode_rd")]["choices"])["tokens"] == tr("faith_tokens", "zh")
    assert dict((v, k) for k, v in out[name_of("whatif_mode_rd")]["choices"])["keep"] == tr("whatif_keep", "zh")


def test_language_switch_covers_the_new_section(monkeypatch):
    from vitviz.ui.page import Session
    from vitviz.ui.sections import trust

    # the module-level handler, without building the page
    _check_trust_texts_in_chinese(trust.texts(V.ViewSettings(lang="zh"), Session()), lambda name: name)

    # and as wired into the page: the language radio's listener writes the section's components
    monkeypatch.setenv("VITVIZ_MODEL", "vit_tiny_patch16_224")
    monkeypatch.setenv("VITVIZ_RANDOM_WEIGHTS", "1")
    from vitviz.ui.app import build_demo

    demo = build_demo()
    page, comps = demo.vitviz_page, demo.vitviz_sections["trust"]
    by_id = {b.elem_id: b for b in demo.blocks.values() if getattr(b, "elem_id", None)}
    assert comps["g_md"] is by_id["vv-trust-md"] and comps["faith_mode_rd"] is by_id["vv-faith-mode"]
    lang_fn = next(f for f in demo.fns.values() if getattr(f.fn, "__name__", "") == "on_language"
                   and comps["g_md"] in f.outputs)
    assert [t[1] for t in lang_fn.targets] == ["input"] and lang_fn.targets[0][0] == page.lang._id
    values = {page.lang: "zh", page.view: {}, page.patch: [7, 7], page.session: Session()}
    _check_trust_texts_in_chinese(lang_fn.fn(values), comps.get)


def test_what_if_handler_toggles_patches(photo):
    """The app's click handler: a click selects a patch (one forward), a second click unselects it."""
    from vitviz.ui.page import MODELS, Session
    from vitviz.ui.sections import trust

    s = V.ViewSettings(lang="en")
    loaded = MODELS.get("vit_tiny_patch16_224", False)
    sess = Session(analysis=vitviz.analyze(loaded, photo), model_key=("vit_tiny_patch16_224", False))
    f = V.display_factor(sess.analysis)
    click = [5 * f, 5 * f]  # inside patch (0, 0)
    out = trust.on_whatif_select(s, sess, click, [], "drop")
    assert out["whatif_state"] == [0]
    assert _is_picture(out["whatif_img"]) and len(out["whatif_label"]) == 5
    assert "195 of 196" in out["whatif_status_md"]
    out = trust.on_whatif_select(s, sess, click, [0], "drop")
    assert out["whatif_state"] == []
    assert trust.on_whatif_reset(s, sess, [3, 4], "keep")["whatif_state"] == []
    # no analysis yet: nothing happens, no error
    assert trust.on_whatif_select(s, Session(), click, [], "drop") == {}
    # a model without a classifier head cannot be explained: a warning, not a traceback
    headless = dataclasses_replace_predictions(sess)
    with pytest.warns(UserWarning, match="no classification head"):
        assert trust.on_explain(s, headless, None) == {}


def dataclasses_replace_predictions(sess):
    import dataclasses
    return dataclasses.replace(sess, analysis=dataclasses.replace(sess.analysis, predictions=()))
