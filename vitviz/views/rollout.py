"""Section 4, attention rollout: the rollout map, per-head rollouts and class-specific relevance."""
from __future__ import annotations

import numpy as np

from vitviz import render as R
from vitviz.analysis.analyze import Analysis
from vitviz.analysis.neuron import AnalysisCache
from vitviz.core.model import ModelInfo
from vitviz.views.common import fmt, layer_head_mosaic, overlay_with_colorbar, readout_name
from vitviz.views.text import tr

ROLLOUTS = AnalysisCache(64)  # (gh, gw) rollout maps for other fusion / discard settings


def rollout_text(info: ModelInfo, lang: str) -> str:
    return tr("sec_d", lang) + "\n\n" + tr("expl_d", lang, readout=readout_name(info, lang), **fmt(info))


def rollout_image(a: Analysis, fusion: str | None = None, discard: float | None = None,
                  lang: str = "en") -> np.ndarray:
    """The rollout for head fusion `fusion` and discard ratio `discard` (default: the analysis's) over the image."""
    fusion = a.fusion if fusion is None else fusion
    discard = a.discard_ratio if discard is None else discard
    if fusion == a.fusion and abs(discard - a.discard_ratio) < 1e-9:
        m = a.rollout
    else:
        m = ROLLOUTS.get(a, f"{fusion}:{discard:.6g}", lambda: a.rollout_map(fusion, discard))
    return overlay_with_colorbar(a, m, tr("fig_rollout_weight", R.figure_lang(lang)), lang)


def head_rollout_image(a: Analysis) -> np.ndarray:
    """Layer × head mosaic of the per-head rollouts over the image."""
    return layer_head_mosaic(a.head_rollout, image=a.image, alpha=0.75)[0]


def relevance_image(a: Analysis, lang: str = "en") -> np.ndarray | None:
    """The class-specific relevance (Chefer 2021) over the image, or None if it was not computed."""
    if a.relevance is None:
        return None
    return overlay_with_colorbar(a, a.relevance, tr("fig_relevance", R.figure_lang(lang)), lang)
