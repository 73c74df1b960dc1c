"""Figure labels follow the page's language: Chinese with a CJK font, English (never tofu) without."""
import logging

import numpy as np
import pytest

from vitviz import render as R
from vitviz.analysis.faithfulness import Curve
from vitviz.render import mpl
from vitviz.views import lesson as LV
from vitviz.views import pictures as V
from vitviz.views import residual as RV
from vitviz.views.common import labelled_colorbar
from vitviz.views.export import export_pictures
from vitviz.views.figures import standard_figures

needs_font = pytest.mark.skipif(mpl.cjk_family() is None, reason="no CJK font (Debian: fonts-noto-cjk)")


def _curves() -> list[Curve]:
    x = np.linspace(0.0, 1.0, 5)
    return [Curve("rollout", "pixels", "deletion", x, 1 - x, 0.5), Curve("rollout", "pixels", "insertion", x, x, 0.5)]


# Every figure with words in it: name → draw(analysis, loaded model, language).
WORDED = {
    "position_all": lambda a, m, lang: V.position_all_image(a, lang),
    "position_patch": lambda a, m, lang: V.position_patch_image(a, (1, 1), lang),
    "distance": lambda a, m, lang: V.distance_image(a, 0, lang),
    "query": lambda a, m, lang: V.query_image(a, V.ViewSettings(lang=lang)),
    "layer_heads": lambda a, m, lang: V.layer_heads_image(a, 0, lang),
    "neuron": lambda a, m, lang: V.neuron_view(m.model, a, V.ViewSettings(lang=lang, patch=(2, 3)))[1],
    "block_stats": lambda a, m, lang: V.block_stats_image(a, 2, lang),
    "rollout": lambda a, m, lang: V.rollout_image(a, lang=lang),
    "relevance": lambda a, m, lang: V.relevance_image(a, lang),
    "lens_patch": lambda a, m, lang: RV.lens_patch_image(a, 3, lang),
    "norms": lambda a, m, lang: RV.norms_image(a, 3, lang),
    "explanations": lambda a, m, lang: V.explanations_image(a, {"random": V.random_map(a)}, {"random": 0.25}, lang),
    "faithfulness": lambda a, m, lang: V.faithfulness_image(_curves(), lang),
    "lesson_attention_out": lambda a, m, lang: LV.attention_out_figure(197, 192, 3, 64, lang),
    "lesson_no_head": lambda a, m, lang: LV.no_head_figure(197, 192, "avg", lang),
    "lesson_layernorm": lambda a, m, lang: LV.histogram_figure(np.arange(8.0), np.arange(8.0) - 3.5, lang, 8),
}


@needs_font
@pytest.mark.parametrize("name", WORDED)
def test_a_chinese_page_gets_chinese_labels(tiny, tiny_analysis, name):
    en, zh = (WORDED[name](tiny_analysis, tiny, lang) for lang in ("en", "zh"))
    assert en.shape[1] == zh.shape[1] and not np.array_equal(en, zh)


@pytest.mark.parametrize("name", WORDED)
def test_without_a_cjk_font_the_labels_stay_english(tiny, tiny_analysis, monkeypatch, name):
    monkeypatch.setattr(mpl, "cjk_family", lambda: None)
    assert R.figure_lang("zh") == "en"
    en, zh = (WORDED[name](tiny_analysis, tiny, lang) for lang in ("en", "zh"))
    assert np.array_equal(en, zh)


def test_the_fallback_to_english_is_said_once(monkeypatch, caplog):
    monkeypatch.setattr(mpl, "cjk_family", lambda: None)
    mpl._say_english_once.cache_clear()
    with caplog.at_level(logging.WARNING, logger="vitviz"):
        for _ in range(3):
            R.figure_lang("zh")
        R.figure_lang("en")
    said = [r for r in caplog.records if "fonts-noto-cjk" in r.getMessage()]
    assert len(said) == 1


@needs_font
def test_a_constant_map_says_so_in_the_language():
    flat = np.zeros((64, 64, 3), np.uint8)
    en, zh = (labelled_colorbar(flat, 0.5, 0.5, "x", lang) for lang in ("en", "zh"))
    assert not np.array_equal(en, zh)


@needs_font
def test_the_cli_figures_take_the_language(tiny_analysis):
    en, zh = standard_figures(tiny_analysis, "en"), standard_figures(tiny_analysis, "zh")
    for name in ("pos_similarity.png", "attention_distance.png", "rollout.png"):
        assert not np.array_equal(en[name], zh[name]), name
    assert np.array_equal(en["patch_grid.png"], zh["patch_grid.png"])  # no words in it


@needs_font
def test_the_export_is_labelled_in_the_tabs_language(tiny, tiny_analysis):
    en, zh = (export_pictures(tiny.model, tiny_analysis, V.ViewSettings(lang=lang)) for lang in ("en", "zh"))
    assert en.keys() == zh.keys()
    for name in ("block_measurements", "attention_computation", "layer1_heads", "relevance", "rollout"):
        assert not np.array_equal(en[name], zh[name]), name
