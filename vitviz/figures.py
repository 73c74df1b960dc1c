"""The standard figure set of one analysis, as images (for the CLI and the app's export)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from . import render
from .analyze import Analysis


def layer_head_grid(maps: np.ndarray, image: np.ndarray, size: int = 72) -> np.ndarray:
    """(L, H, gh, gw) maps over the image as an L × H mosaic, rows labelled by layer."""
    L, H = maps.shape[:2]
    tiles = render.map_tiles(maps.reshape(L * H, *maps.shape[2:]), size=size, image=image)
    return render.tile_grid(tiles, L, H, row_labels=[f"L{l + 1}" for l in range(L)],
                            col_labels=[f"h{h + 1}" for h in range(H)])


def standard_figures(result: Analysis) -> dict[str, np.ndarray]:
    """File name → (h, w, 3) uint8 image for every figure the CLI writes."""
    grid = result.grid
    rollout = result.rollout
    return {
        "patch_grid.png": render.draw_patch_grid(result.image, grid),
        "patch_sequence.png": render.patch_sequence_strip(result.image, grid, result.info.prefix_names),
        "pos_similarity.png": render.position_similarity_image(result.pos_similarity),
        "cls_attention.png": layer_head_grid(result.cls_attention, result.image),
        "rollout.png": render.with_colorbar(
            render.overlay(result.image, rollout), float(rollout.min()), float(rollout.max()),
            label=f"rollout ({result.fusion}, discard {result.discard_ratio:g})"),
        "head_rollout.png": layer_head_grid(result.head_rollout, result.image),
        "attention_distance.png": render.attention_distance_image(result.attention_distance, result.info.patch_size),
        "embedding_filters.png": render.filter_components_image(result.filter_components),
    }


def save_figures(result: Analysis, out_dir: str | Path) -> list[Path]:
    """Write `standard_figures` as PNG files into out_dir; returns their paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, image in standard_figures(result).items():
        Image.fromarray(image).save(out / name)
        paths.append(out / name)
    return paths
