"""Fashion-MNIST in memory: the idx files of Debian's ``dataset-fashion-mnist``.

idx format (LeCun's MNIST page): big-endian header, images ``magic, n, rows, cols`` (16 bytes),
labels ``magic, n`` (8 bytes), then one unsigned byte per pixel / label.
"""
from __future__ import annotations

import gzip
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
CLASS_NAMES = ("T-shirt/top", "trouser", "pullover", "dress", "coat",
               "sandal", "shirt", "sneaker", "bag", "ankle boot")
MEAN = 0.2860  # of the train split's pixels in [0, 1]
STD = 0.3530
VALIDATION_SIZE = 5000  # the last 5000 train images: watched during training, never trained on


@dataclass(frozen=True)
class Split:
    images: np.ndarray  # n, 28, 28 uint8
    labels: np.ndarray  # n int64


def _read_idx(path: Path, header: int) -> np.ndarray:
    with gzip.open(path, "rb") as f:
        return np.frombuffer(f.read(), np.uint8, offset=header)


def read_split(kind: str, root: Path = DEBIAN_DIR) -> Split:
    """``kind``: 'train' or 't10k' (the official 10k test set)."""
    images = _read_idx(root / f"{kind}-images-idx3-ubyte.gz", 16).reshape(-1, 28, 28)
    labels = _read_idx(root / f"{kind}-labels-idx1-ubyte.gz", 8).astype(np.int64)
    if len(images) != len(labels):
        raise ValueError(f"{kind}: {len(images)} images but {len(labels)} labels")
    return Split(images, labels)


def train_and_validation(root: Path = DEBIAN_DIR) -> tuple[Split, Split]:
    full = read_split("train", root)
    cut = len(full.labels) - VALIDATION_SIZE
    return (Split(full.images[:cut], full.labels[:cut]),
            Split(full.images[cut:], full.labels[cut:]))


def normalise(images: np.ndarray) -> np.ndarray:
    """uint8 (n, 28, 28) -> float32 (n, 1, 28, 28), the model's input."""
    return ((images.astype(np.float32) / 255.0 - MEAN) / STD)[:, None]


def augment(images: np.ndarray, rng: np.random.Generator, shift: int = 2) -> np.ndarray:
    """Small random shifts (zero padding, the background is black) and horizontal flips."""
    n = len(images)
    padded = np.pad(images, ((0, 0), (shift, shift), (shift, shift)))
    dy, dx = rng.integers(0, 2 * shift + 1, size=(2, n))
    rows = dy[:, None] + np.arange(28)[None]  # n, 28
    cols = dx[:, None] + np.arange(28)[None]
    out = padded[np.arange(n)[:, None, None], rows[:, :, None], cols[:, None, :]]
    flip = rng.random(n) < 0.5
    out[flip] = out[flip, :, ::-1]
    return out
