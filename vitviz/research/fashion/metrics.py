"""vitviz-fashion's numbers, on images training never saw (the official 10k test split, or its committed part).

* accuracy, overall and per class;
* **rollout on the garment**: the top patch of attention rollout (the app's: Abnar & Zuidema 2020, heads fused
  by their mean, no discarding, the classifier's readout row; `vitviz.core.capture` +
  `vitviz.analysis.attention`) lies on the garment;
* position-embedding locality (`vitviz.analysis.embeddings.PosLocality`, as the app measures it).

Garment pixels (`GARMENT_THRESHOLD`): Fashion-MNIST pictures are negated product photos, so the background
is black. Half of all test pixels are exactly 0, and the low values 1..8 are a fast-decaying halo left by the
dataset's resizing (80k pixels at value 1, 7.5k at 9); from about 9 on the histogram is flat, i.e. garment.
A pixel is garment when its value is above 16 of 255 (6 %), clear of that halo; the share of garment
patches hardly depends on the choice (0.54 at > 8, 0.52 at > 32, 0.49 at > 64). A patch (a 2x2 block of the
28-px image on the 14x14 grid, one 16x16 patch of the served 224-px input) is on the garment when any of its
pixels is. `rollout_chance` is the hit rate of a uniformly random patch (the share of garment patches), and
`rollout_strict` asks for a top patch whose pixels are all garment.

The served model (224 px, 3 channels, patch 16) computes exactly what the 28-px training model computes on
nearest-enlarged grey input (tests/research/test_fashion.py), so either gives the same numbers;
`model_input` builds the input each model expects.

    python -m vitviz.research.fashion.metrics --model-dir vitviz/assets/models          # full test + subset
"""
from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from timm.models.vision_transformer import VisionTransformer

from vitviz.analysis import attention as att
from vitviz.analysis import embeddings
from vitviz.core.assets import ASSETS
from vitviz.research.pointing import predict_with_rollout  # noqa: F401  (export.py uses it from here)

from . import data

GARMENT_THRESHOLD = 16  # of 255: a pixel above it is garment (see the module docstring)
SUBSET_FILE = ASSETS / "datasets" / "fashion-mnist-test-2000.npz"
BATCH = 32  # larger batches allocate attention maps above glibc's mmap threshold: +30 % system time


def garment_pixels(images: np.ndarray) -> np.ndarray:
    """(n, 28, 28) uint8 → bool: the pixel shows the garment (value > GARMENT_THRESHOLD)."""
    return np.asarray(images) > GARMENT_THRESHOLD


def _blocks(images: np.ndarray, grid: int) -> np.ndarray:
    n, side = len(images), images.shape[-1]
    if side % grid:
        raise ValueError(f"a {grid}x{grid} grid does not tile {side} px")
    b = side // grid
    return garment_pixels(images).reshape(n, grid, b, grid, b)


def garment_patches(images: np.ndarray, grid: int) -> np.ndarray:
    """(n, grid, grid) bool: some pixel of the block the patch covers is garment."""
    return _blocks(images, grid).any(axis=(2, 4))


def full_garment_patches(images: np.ndarray, grid: int) -> np.ndarray:
    """(n, grid, grid) bool: every pixel of the block the patch covers is garment."""
    return _blocks(images, grid).all(axis=(2, 4))


def model_input(images: np.ndarray, model: VisionTransformer) -> torch.Tensor:
    """(n, 28, 28) uint8 → what `model` reads: normalised, enlarged (nearest) to its input size and copied
    into its channels, (n, C, S, S); the 28-px model gets (n, 1, 28, 28)."""
    size = int(model.patch_embed.img_size[0])
    if size % 28:
        raise ValueError(f"input size {size} is not a multiple of 28")
    f = size // 28
    x = np.repeat(np.repeat(np.asarray(images), f, 1), f, 2) if f > 1 else np.asarray(images)
    x = torch.from_numpy(data.normalise(x))  # n, 1, S, S
    return x.expand(-1, model.patch_embed.proj.in_channels, -1, -1)


@dataclass(frozen=True)
class PerImage:
    """Per-image results; `summarise` turns them (or a subset of rows) into the card's numbers."""

    prediction: np.ndarray  # n, predicted class
    top_patch: np.ndarray  # n, 2: (row, col) of the top rollout patch
    on_garment: np.ndarray  # n bool: the top patch covers garment pixels
    strict: np.ndarray  # n bool: all of the top patch's pixels are garment
    chance: np.ndarray  # n: share of the patches that cover garment pixels

    def take(self, rows: np.ndarray) -> "PerImage":
        return PerImage(*(getattr(self, k)[rows] for k in self.__dataclass_fields__))


def top_patches(maps: np.ndarray) -> np.ndarray:
    """(n, gh, gw) → (n, 2): (row, col) of each map's largest value (the first one on ties)."""
    flat = maps.reshape(len(maps), -1).argmax(-1)
    return np.stack(np.unravel_index(flat, maps.shape[1:]), -1)


def rollout_scores(top: np.ndarray, images: np.ndarray, grid: int) -> dict[str, np.ndarray]:
    """on_garment, strict and chance (see `PerImage`) of top patches (n, 2) on their images (n, 28, 28)."""
    rows = np.arange(len(top))
    near, full = garment_patches(images, grid), full_garment_patches(images, grid)
    return {"on_garment": near[rows, top[:, 0], top[:, 1]], "strict": full[rows, top[:, 0], top[:, 1]],
            "chance": near.reshape(len(top), -1).mean(-1)}


@torch.no_grad()
def score_images(model: VisionTransformer, images: np.ndarray, batch: int = BATCH) -> PerImage:
    """Run `model` (the 28-px or the served one) on (n, 28, 28) uint8 test images, `batch` at a time."""
    model.eval()
    preds, tops = [], []
    for i in range(0, len(images), batch):
        logits, maps = predict_with_rollout(model, model_input(images[i:i + batch], model))
        preds.append(logits.argmax(-1).numpy())
        tops.append(top_patches(maps.numpy()))
    top = np.concatenate(tops)
    return PerImage(prediction=np.concatenate(preds), top_patch=top,
                    **rollout_scores(top, images, int(model.patch_embed.grid_size[0])))


def summarise(per: PerImage, labels: np.ndarray) -> dict:
    """The card's numbers for these images."""
    right = per.prediction == labels
    return {"n": int(len(labels)), "accuracy": round(float(right.mean()), 4),
            "per_class_accuracy": {name: round(float(right[labels == c].mean()), 4)
                                   for c, name in enumerate(data.CLASS_NAMES) if (labels == c).any()},
            "rollout_on_garment": round(float(per.on_garment.mean()), 4),
            "rollout_strict": round(float(per.strict.mean()), 4),
            "rollout_chance": round(float(per.chance.mean()), 4)}


def pos_locality(model: VisionTransformer) -> embeddings.PosLocality:
    """`PosLocality` of the model's patch position embeddings, as the app measures it."""
    patches = model.pos_embed.detach()[0, model.num_prefix_tokens:]  # P, C
    return embeddings.pos_locality(embeddings.pos_embed_similarity(patches, tuple(model.patch_embed.grid_size)))


def mirror_cos(model: VisionTransformer, far: int = 5) -> dict[str, float]:
    """Mean cosine of each patch's position embedding with its left-right mirror (r, g-1-c) and its up-down
    mirror (g-1-r, c), over the pairs at least `far` cells apart. Horizontal-flip augmentation makes a garment
    and its mirror image equally likely, which can teach a code symmetric under that flip; `PosLocality`'s
    measures do not look for it."""
    gh, gw = tuple(model.patch_embed.grid_size)
    patches = model.pos_embed.detach()[0, model.num_prefix_tokens:]
    sim = embeddings.pos_embed_similarity(patches, (gh, gw)).numpy().reshape(gh, gw, gh, gw)
    yy, xx = np.mgrid[:gh, :gw]
    lr = np.abs((gw - 1 - xx) - xx) >= far
    ud = np.abs((gh - 1 - yy) - yy) >= far
    return {"left_right_mirror_cos": round(float(sim[yy, xx, yy, gw - 1 - xx][lr].mean()), 4),
            "up_down_mirror_cos": round(float(sim[yy, xx, gh - 1 - yy, xx][ud].mean()), 4)}


def locality_record(pl: embeddings.PosLocality, mirror: dict | None = None) -> dict:
    r = lambda v: None if v is None else round(float(v), 4)  # noqa: E731
    return {"neighbour_cos": r(pl.neighbour_cos), "far_cos": r(pl.far_cos),
            "same_ring_far_cos": r(pl.same_ring_far_cos), "same_line_far_cos": r(pl.same_line_far_cos),
            "far": pl.far, **(mirror or {}),
            "neighbour_minus_same_ring_far": r(pl.neighbour_cos - pl.same_ring_far_cos)
            if pl.same_ring_far_cos is not None else None,
            "neighbour_minus_far": r(pl.neighbour_cos - pl.far_cos) if pl.far_cos is not None else None,
            "pattern": pl.pattern}


def load_served_weights(model: VisionTransformer, weights: Path) -> VisionTransformer:
    from safetensors.torch import load_file
    model.load_state_dict({k: v.float() for k, v in load_file(str(weights)).items()})
    return model.eval()


def load_served(model_dir: Path, name: str = "vitviz-fashion") -> VisionTransformer:
    """The exported model as a plain timm model, from its card and safetensors (what `vitviz.load_model` builds)."""
    card = json.loads((model_dir / f"{name}.json").read_text())
    return load_served_weights(VisionTransformer(**card["model_args"]), model_dir / card["weights"]["file"])


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model-dir", type=Path, default=ASSETS / "models")
    ap.add_argument("--subset", type=Path, default=SUBSET_FILE)
    ap.add_argument("--subset-only", action="store_true", help="skip the full 10k test split")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    model = load_served(args.model_dir)
    out = {"pos_embed": locality_record(pos_locality(model), mirror_cos(model))}
    sub, _ = data.read_test_subset(args.subset)
    t0 = time.time()
    out["test_subset"] = summarise(score_images(model, sub.images), sub.labels)
    if not args.subset_only:
        test = data.read_split("t10k")
        out["test"] = summarise(score_images(model, test.images), test.labels)
    out["seconds"] = round(time.time() - t0, 1)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
