"""The page's sections: module-level handlers, each writing only its own section's components."""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

import vitviz
from vitviz.ui.page import MODELS, Session
from vitviz.ui.sections import ablation, attention, export, lesson, position, prediction, residual, rollout, trust
from vitviz.ui.sections import input as input_section
from vitviz.views import pictures as V

MODEL = "vit_tiny_patch16_224"
SECTIONS = {"input": input_section, "lesson": lesson, "position": position, "attention": attention, "rollout": rollout,
            "prediction": prediction, "residual": residual, "ablation": ablation, "export": export, "trust": trust}
SHARED = ("session", "patch_state", "view", "revision")  # the page's states, written by the sections that change them


@pytest.fixture(scope="module")
def demo():
    import os
    saved = {k: os.environ.get(k) for k in ("VITVIZ_MODEL", "VITVIZ_RANDOM_WEIGHTS")}
    os.environ.update(VITVIZ_MODEL=MODEL, VITVIZ_RANDOM_WEIGHTS="1")
    try:
        from vitviz.ui import build_demo
        return build_demo()
    finally:
        for k, v in saved.items():
            os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)


@pytest.fixture(scope="module")
def sess(photo):
    return Session(analysis=vitviz.analyze(MODELS.get(MODEL, False), photo), model_key=(MODEL, False),
                   source={"en": "test"}, image_path=None)


FOLLOWERS = ("on_revision", "on_language")  # Page.wire_followers: a few sections per event


def test_every_listener_writes_one_section(demo):
    page = demo.vitviz_page
    states = {page.session, page.patch, page.view, page.revision}
    owners = {id(c): name for name, comps in demo.vitviz_sections.items() for c in comps.values() if c is not None}
    for fn in demo.fns.values():
        name = getattr(fn.fn, "__name__", "")
        if name in ("load_example", "api_analyze", "api_model_info", "forget_tab", *FOLLOWERS):
            continue
        # the one exception: a new analysis brings the explorers their first view with its answer
        shared = states | set(page.explorers.values()) if name == "run" else states
        sections = {owners.get(id(c)) for c in fn.outputs if c not in shared}
        assert len(sections) == 1 and None not in sections, (name, sections)


@pytest.mark.parametrize("trigger", FOLLOWERS)
def test_sections_follow_the_page_in_few_events(demo, trigger):
    """Every section below the input follows a new analysis and a new language, in exactly one
    event each; the slow ones (lesson, residual) alone, all others together."""
    owners = {id(c): name for name, comps in demo.vitviz_sections.items() for c in comps.values() if c is not None}
    events = [{owners[id(c)] for c in fn.outputs} for fn in demo.fns.values()
              if getattr(fn.fn, "__name__", "") == trigger]
    written = [name for sections in events for name in sections]
    assert sorted(written) == sorted(set(SECTIONS) - {"input"}), written
    assert {"lesson"} in events and {"residual"} in events and len(events) == 3


def test_a_new_analysis_shows_its_progress_on_the_status_line_only(demo):
    """Not on each of its ~20 outputs: every loading status costs the tab gradio's work per component
    while the explorer waits to draw its first view (benchmarks/RESULTS.md, session 21)."""
    runs = [fn for fn in demo.fns.values() if getattr(fn.fn, "__name__", "") == "run"]
    assert len(runs) == 1 and len(runs[0].outputs) > 10
    assert runs[0].show_progress == "full"
    assert runs[0].show_progress_on == [demo.vitviz_sections["input"]["status_md"]]


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_section_handlers_name_only_their_own_components(demo, sess, lang):
    s = V.ViewSettings(lang=lang, layer=11, head=2, patch=(3, 4), query="CLS")
    for name, module in SECTIONS.items():
        own = set(demo.vitviz_sections[name]) | set(SHARED)
        assert set(module.texts(s, sess)) <= own, name
        assert set(module.texts(s, Session())) <= own, name  # before the first image
        if hasattr(module, "pictures"):
            assert set(module.pictures(s, sess)) <= own, name
    out = input_section.everything(s, sess)
    assert set(out) <= set(demo.vitviz_sections["input"]) | set(SHARED)
    assert out["patch_state"] == [3, 4] and out["patch_md"] == input_section.patch_text(sess.analysis, s)


def test_the_page_builds_view_settings_from_the_language_patch_and_view_state_once(demo):
    page = demo.vitviz_page
    raw = {page.lang: None, page.view: {"layer": 2, "head": 2, "fusion": "max", "discard": 0.25},
           page.patch: [5, 6], page.session: None}
    assert page.settings(raw) == V.ViewSettings(lang="en", layer=2, head=2, patch=(5, 6), query="patch",
                                                fusion="max", discard=0.25)


def test_wired_click_handlers_get_the_clicked_pixel(demo, sess):
    """The gradio adapters pass the click position and write the returned names into components."""
    page, c = demo.vitviz_page, demo.vitviz_sections["trust"]
    fn = next(f.fn for f in demo.fns.values() if getattr(f.fn, "__name__", "") == "on_whatif_select")
    f = V.display_factor(sess.analysis)
    values = {page.lang: "en", page.view: {}, page.patch: [0, 0], page.session: sess, c["whatif_state"]: [],
              c["whatif_mode_rd"]: "drop"}
    out = fn(values, SimpleNamespace(index=[5 * f, 5 * f]))
    assert out[c["whatif_state"]] == [0] and "195 of 196" in out[c["whatif_status_md"]]
    grid = demo.vitviz_sections["input"]
    select = [f.fn for f in demo.fns.values() if getattr(f.fn, "__name__", "") == "on_patch_select"]
    assert len(select) == 3  # input, position and attention each follow a click on any patch picture
    outs = [fn(values, SimpleNamespace(index=[5 * f, 20 * f])) for fn in select]
    patch = next(o for o in outs if grid["patch_md"] in o)
    assert patch[page.patch] == [1, 0]
    drawn = next(o for o in outs if demo.vitviz_sections["position"]["pos_patch_img"] in o)[
        demo.vitviz_sections["position"]["pos_patch_img"]]
    assert Path(drawn["value"]).is_file() and drawn["alt_text"].startswith("Similarity")  # a picture, described


def test_run_analyses_once_and_bumps_the_revision(sess, photo, tmp_path):
    from PIL import Image

    path = tmp_path / "photo.png"
    Image.fromarray(photo).save(path)
    s = V.ViewSettings()
    out = input_section.run(s, Session(), str(path), MODEL, True)
    assert out["revision"][1] == "all" and out["session"].analysis is not None
    assert out["session"].image_path == str(path) and out["patch_state"] == list(V.default_patch(sess.analysis.info))
    again = input_section.run(s, out["session"], str(path), MODEL, True)
    assert again["revision"][0] > out["revision"][0]
    # no image yet, same model: only the status changes, the sections are not re-drawn
    assert set(input_section.run(s, Session(model_key=(MODEL, False)), None, MODEL, True)) == {"status_md"}


def test_progress_is_reported_while_a_model_loads_and_not_for_each_image(photo, tmp_path, monkeypatch):
    """Every progress message costs the tab gradio's status work while the explorer waits; only a
    model load, which takes seconds, says what it is doing."""
    from PIL import Image

    from vitviz.core.model_cache import ModelCache

    monkeypatch.setattr(input_section, "MODELS", ModelCache(2))  # nothing loaded yet
    paths = [tmp_path / "a.png", tmp_path / "b.png"]
    Image.fromarray(photo).save(paths[0]), Image.fromarray(photo[:, ::-1].copy()).save(paths[1])
    said = []
    progress = lambda value, desc=None: said.append(desc)  # noqa: E731
    first = input_section.run(V.ViewSettings(), Session(tab="t"), str(paths[0]), MODEL, True, progress=progress)
    assert first["session"].analysis is not None
    assert said[0].startswith("Loading") and said[-1].startswith("Running") and len(said) == 2
    said.clear()
    second = input_section.run(V.ViewSettings(), first["session"], str(paths[1]), MODEL, True, progress=progress)
    assert second["session"].analysis is not None and said == []


def test_a_new_analysis_answers_with_both_explorers_first_view(photo, tmp_path):
    from PIL import Image

    path = tmp_path / "photo.png"
    Image.fromarray(photo).save(path)
    out = input_section.run(V.ViewSettings(), Session(tab="tab-run"), str(path), MODEL, True)
    att, roll = out["explorer:attention"], out["explorer:rollout"]
    assert att["token"] and att["token"] == roll["token"]
    assert {"meta", "readout"} <= set(att["inline"]) and {"meta", "rollout:own"} == set(roll["inline"])
    assert out["session"].tab == "tab-run"


def test_a_tab_asking_twice_for_the_same_image_and_model_runs_the_model_once(photo, tmp_path):
    """gradio reports one upload as two changes; both may start before either has answered."""
    from PIL import Image

    path = tmp_path / "photo.png"
    Image.fromarray(photo).save(path)
    s = V.ViewSettings()
    first = input_section.run(s, Session(tab="tab-twice"), str(path), MODEL, True)
    assert first["session"].analysis is not None
    assert input_section.run(s, Session(tab="tab-twice"), str(path), MODEL, True) == {}
    assert input_section.run(s, Session(tab="other-tab"), str(path), MODEL, True)["session"].analysis is not None
    other = tmp_path / "flipped.png"
    Image.fromarray(photo[:, ::-1].copy()).save(other)
    assert input_section.run(s, first["session"], str(other), MODEL, True)["session"].analysis is not None


def test_a_failed_run_can_be_tried_again(tmp_path):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a png")
    s, sess = V.ViewSettings(), Session(tab="tab-retry", model_key=(MODEL, False))
    assert "status_md" in input_section.run(s, sess, str(broken), MODEL, True)
    assert "status_md" in input_section.run(s, sess, str(broken), MODEL, True)  # not skipped: tried again


def test_the_page_opens_with_an_example_of_the_models_own_kind():
    examples = ["a/chelsea_cat.jpg", "a/fashion_0000_ankle-boot.png", "a/shapes_0_circle.png"]
    assert input_section.first_example("vitviz-fashion", examples) == "a/fashion_0000_ankle-boot.png"
    assert input_section.first_example("vitviz-shapes", examples) == "a/shapes_0_circle.png"
    assert input_section.first_example("vit_base_patch16_224", examples) == "a/chelsea_cat.jpg"


@pytest.mark.skipif(vitviz.render.cjk_family() is None, reason="no CJK font (Debian: fonts-noto-cjk)")
def test_a_language_switch_relabels_the_figures_on_show(sess):
    import dataclasses

    from vitviz.analysis.faithfulness import Curve
    from vitviz.views.text import tr

    en, zh = V.ViewSettings(lang="en"), V.ViewSettings(lang="zh")

    def redrawn(module, s, session, key):
        """The picture `texts` sends, checking its label is translated with it."""
        update = module.texts(s, session)[key]
        assert update["label"] == tr(module.LABELS[key], s.lang), key
        return update["value"]

    for key in ("neuron_img", "block_img", "distance_img"):
        assert not np.array_equal(redrawn(attention, en, sess, key), redrawn(attention, zh, sess, key)), key
    for key in ("pos_all_img", "pos_patch_img"):
        assert not np.array_equal(redrawn(position, en, sess, key), redrawn(position, zh, sess, key)), key
    assert "value" not in rollout.texts(zh, sess)["relevance_img"]  # nothing computed, nothing drawn
    relevant = dataclasses.replace(sess, analysis=dataclasses.replace(sess.analysis, relevance=sess.analysis.rollout))
    assert not np.array_equal(redrawn(rollout, en, relevant, "relevance_img"),
                              redrawn(rollout, zh, relevant, "relevance_img"))
    # the trust section redraws what its buttons drew, from what it was drawn from (no model run)
    assert trust.on_lang(zh, sess, None, None) == {}
    a = sess.analysis
    maps, seconds = {"random": V.random_map(a)}, {"random": 0.5}
    x = np.linspace(0.0, 1.0, 5)
    curves = [Curve("random", "pixels", "deletion", x, 1 - x, 0.5), Curve("random", "pixels", "insertion", x, x, 0.5)]
    target = a.predictions[0].index
    worded = trust.on_lang(zh, sess, (target, maps, seconds), (target, "pixels", curves))
    assert worded["explain_md"].startswith("已用")  # "Explained class …" in Chinese
    assert worded["auc_md"] == V.auc_table(curves, a.predictions[0].name, "pixels", "zh")
    assert not np.array_equal(worded["explain_img"], V.explanations_image(a, maps, seconds, "en"))
    assert not np.array_equal(worded["faith_img"], V.faithfulness_image(curves, "en"))


@pytest.mark.parametrize("font", [True, False])
def test_the_status_line_says_when_chinese_figures_fall_back_to_english(monkeypatch, font):
    from vitviz.render import mpl
    from vitviz.views.text import tr

    monkeypatch.setattr(mpl, "cjk_family", (lambda: "Noto Sans CJK SC") if font else (lambda: None))
    sess = Session(model_key=(MODEL, True), source={"en": "vitviz-fashion"})
    said = tr("status_no_cjk_font", "zh")
    assert (said in input_section.status_text(sess, "zh")) is not font
    assert tr("status_no_cjk_font", "en") not in input_section.status_text(sess, "en")
