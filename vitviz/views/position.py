"""Section 2, position embeddings: what they encode, and how similar they are to each other."""
from __future__ import annotations

import numpy as np

from vitviz import render as R
from vitviz.analysis.analyze import Analysis
from vitviz.analysis.embeddings import PosLocality
from vitviz.core.model import ModelInfo
from vitviz.views.common import display_factor, fmt, labelled_colorbar
from vitviz.views.text import tr


def position_text(info: ModelInfo, lang: str, locality: PosLocality | None = None) -> str:
    """The section's explanation, then what `locality` (the loaded model's embeddings) shows."""
    text = tr("sec_b", lang) + "\n\n" + tr("expl_b", lang, **fmt(info))
    if locality is None or locality.far_cos is None:
        return text
    loc = locality

    def cos(x: float | None) -> float | None:
        return None if x is None else round(x, 2) + 0.0  # no "-0.00"

    text += "\n\n" + tr(f"pos_measured_{loc.pattern}", lang, near=cos(loc.neighbour_cos), far=loc.far,
                        farv=cos(loc.far_cos), ring=cos(loc.same_ring_far_cos))
    # rows and columns (ViT paper, fig. 7): worth saying only when they stand out from other far pairs
    if loc.pattern == "grid" and loc.same_line_far_cos is not None and loc.same_line_far_cos > loc.far_cos + 0.1:
        text += tr("pos_measured_lines", lang, line=cos(loc.same_line_far_cos))
    return text


def position_all_image(a: Analysis, lang: str = "en") -> np.ndarray:
    """ViT fig. 7 (centre): every patch's position-embedding similarity map, with a colour bar."""
    return labelled_colorbar(R.position_similarity_image(a.pos_similarity), -1.0, 1.0,
                             tr("fig_cosine", R.figure_lang(lang)), lang, R.SIGNED_CMAP)


def position_patch_image(a: Analysis, patch: tuple[int, int], lang: str = "en") -> np.ndarray:
    """How similar patch (row, col)'s position embedding is to every other patch's, over the image."""
    idx = patch[0] * a.info.grid[1] + patch[1]
    sim = a.pos_similarity[idx]
    big = R.overlay(a.image, sim, alpha=0.8, vmin=-1.0, vmax=1.0, cmap=R.SIGNED_CMAP)
    big = R.mark_patch(big, a.grid, patch, display_factor(a), mark=(255, 80, 80))
    return labelled_colorbar(big, -1.0, 1.0, tr("fig_cosine", R.figure_lang(lang)), lang, R.SIGNED_CMAP)
