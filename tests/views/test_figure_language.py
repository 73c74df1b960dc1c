"""Figure labels follow the page's language: Chinese with a CJK font, English (never tofu) without."""
import numpy as np
import pytest

from vitviz import render as R
from vitviz.render import mpl
from vitviz.views import pictures as V
from vitviz.views.figures import standard_figures

needs_font = pytest.mark.skipif(mpl.cjk_family() is None, reason="no CJK font (Debian: fonts-noto-cjk)")


@needs_font
@pytest.mark.parametrize("draw", [V.position_all_image, lambda a, lang: V.position_patch_image(a, (1, 1), lang),
                                  lambda a, lang: V.distance_image(a, 0, lang),
                                  lambda a, lang: V.query_image(a, V.ViewSettings(lang=lang))])
def test_a_chinese_page_gets_chinese_labels(tiny_analysis, draw):
    en, zh = draw(tiny_analysis, "en"), draw(tiny_analysis, "zh")
    assert en.shape[1] == zh.shape[1] and not np.array_equal(en, zh)


def test_without_a_cjk_font_the_labels_stay_english(tiny_analysis, monkeypatch):
    monkeypatch.setattr(mpl, "cjk_family", lambda: None)
    assert R.figure_lang("zh") == "en"
    assert np.array_equal(V.position_all_image(tiny_analysis, "zh"), V.position_all_image(tiny_analysis, "en"))


@needs_font
def test_the_cli_figures_take_the_language(tiny_analysis):
    en, zh = standard_figures(tiny_analysis, "en"), standard_figures(tiny_analysis, "zh")
    assert not np.array_equal(en["pos_similarity.png"], zh["pos_similarity.png"])
    assert np.array_equal(en["patch_grid.png"], zh["patch_grid.png"])  # no words in it
