"""What one "Export" writes: the figures, the lesson handout in the tab's language, the analysis."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from vitviz.views import pictures as V
from vitviz.views.export import export_analysis


def test_export_writes_the_figures_the_handout_and_the_analysis_last(tiny, tiny_analysis, tmp_path):
    paths = [Path(p) for p in export_analysis(tiny, tiny_analysis, V.ViewSettings(lang="zh"), tmp_path)]
    assert all(p.parent == tmp_path and p.is_file() for p in paths)
    assert paths[-1].name == "vit_tiny_patch16_224_analysis.npz"
    assert np.load(paths[-1])["attention"].shape == tiny_analysis.attention.shape
    (handout,) = [p for p in paths if p.suffix == ".html"]
    page = handout.read_text(encoding="utf-8")
    assert handout.name == "vit_tiny_patch16_224_lesson_zh.html" and '<html lang="zh-Hans">' in page
    assert page.count('<section class="step"') == 14
    assert sum(p.suffix == ".png" for p in paths) >= 8
