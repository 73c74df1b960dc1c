"""The standard figure set of one analysis, as images (for the CLI and the app's export).

Every figure is drawn by the same catalogue function (`vitviz.views.pictures`) the app
shows it with, at the analysis's own settings (no patch marked, no layer highlighted).
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image

from vitviz.analysis.analyze import Analysis
from vitviz.views import pictures as V

# File name → the view that draws it from an analysis alone.
STANDARD_FIGURES: dict[str, Callable[[Analysis], np.ndarray]] = {
    "patch_grid.png": V.grid_image,
    "patch_sequence.png": V.strip_image,
    "pos_similarity.png": V.position_all_image,
    "cls_attention.png": V.overview_image,
    "rollout.png": V.rollout_image,
    "head_rollout.png": V.head_rollout_image,
    "attention_distance.png": V.distance_image,
    "embedding_filters.png": V.filters_image,
}


def layer_head_grid(maps: np.ndarray, image: np.ndarray, size: int = 72) -> np.ndarray:
    """(L, H, gh, gw) maps over the image as an L × H mosaic, rows labelled by layer."""
    return V.layer_head_mosaic(maps, size=size, image=image, pad=4, label_size=12)[0]


# The views that draw text into their figure, and so take the language.
WORDED = {V.position_all_image, V.distance_image, V.rollout_image}


def standard_figures(result: Analysis, lang: str = "en") -> dict[str, np.ndarray]:
    """File name → (h, w, 3) uint8 image for every figure the CLI writes (labels in `lang`)."""
    return {name: view(result, lang=lang) if view in WORDED else view(result) for name, view in STANDARD_FIGURES.items()}


def save_figures(result: Analysis, out_dir: str | Path, lang: str = "en") -> list[Path]:
    """Write `standard_figures` as PNG files into out_dir; returns their paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, image in standard_figures(result, lang).items():
        Image.fromarray(image).save(out / name)
        paths.append(out / name)
    return paths
