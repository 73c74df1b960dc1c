"""Fashion-MNIST in memory: the idx files of Debian's ``dataset-fashion-mnist``.

idx format (LeCun's MNIST page): big-endian header, images ``magic, n, rows, cols`` (16 bytes),
labels ``magic, n`` (8 bytes), then one unsigned byte per pixel / label.

Fashion-MNIST is (c) 2017 Zalando SE, MIT licence (https://github.com/zalandoresearch/fashion-mnist).
The repository keeps a stratified 2,000-image part of the test split (``metrics.SUBSET_FILE``) so that the
tests need no Debian package, and 20 test images as app examples; both are rewritten by

    python -m vitviz.research.fashion.data --subset vitviz/assets/datasets/fashion-mnist-test-2000.npz \
        --examples vitviz/assets/examples
"""
from __future__ import annotations

import argparse
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
LICENCE = "Fashion-MNIST (c) 2017 Zalando SE, MIT licence, https://github.com/zalandoresearch/fashion-mnist"
SUBSET_PER_CLASS = 200  # the committed test subset: the first 200 t10k images of every class
EXAMPLE_SCALE = 8  # app examples: 28 px enlarged 8x (nearest) to the served model's 224 px


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


def augment(images: np.ndarray, rng: np.random.Generator, shift: int = 2, erase: float = 0.0) -> np.ndarray:
    """Small random shifts (zero padding, the background is black) and horizontal flips; with `erase` > 0,
    random erasing as well. With erase=0 the generator is drawn exactly as before it existed, so earlier runs
    replay their data."""
    n = len(images)
    padded = np.pad(images, ((0, 0), (shift, shift), (shift, shift)))
    dy, dx = rng.integers(0, 2 * shift + 1, size=(2, n))
    rows = dy[:, None] + np.arange(28)[None]  # n, 28
    cols = dx[:, None] + np.arange(28)[None]
    out = padded[np.arange(n)[:, None, None], rows[:, :, None], cols[:, None, :]]
    flip = rng.random(n) < 0.5
    out[flip] = out[flip, :, ::-1]
    if erase > 0:
        random_erase(out, rng, erase)
    return out


def random_erase(images: np.ndarray, rng: np.random.Generator, prob: float,
                 area: tuple[float, float] = (0.02, 0.25), aspect: tuple[float, float] = (0.3, 3.3)) -> None:
    """Random erasing (Zhong et al., arXiv:1708.04896, algorithm 1), in place: with probability `prob` a
    rectangle of `area` (share of the image) and `aspect` (height / width, log-uniform) is filled with
    uniform noise."""
    n, h, w = images.shape
    share = rng.uniform(*area, n)
    ratio = np.exp(rng.uniform(np.log(aspect[0]), np.log(aspect[1]), n))
    eh = np.clip(np.round(np.sqrt(share * h * w * ratio)), 1, h).astype(int)
    ew = np.clip(np.round(np.sqrt(share * h * w / ratio)), 1, w).astype(int)
    top, left = rng.integers(0, h - eh + 1), rng.integers(0, w - ew + 1)
    for i in np.flatnonzero(rng.random(n) < prob):
        images[i, top[i]:top[i] + eh[i], left[i]:left[i] + ew[i]] = rng.integers(0, 256, (eh[i], ew[i]))


def stratified_indices(labels: np.ndarray, per_class: int) -> np.ndarray:
    """The first `per_class` indices of every class, in file order (sorted)."""
    picks = [np.flatnonzero(labels == c)[:per_class] for c in range(len(CLASS_NAMES))]
    if any(len(p) < per_class for p in picks):
        raise ValueError(f"fewer than {per_class} images in some class")
    return np.sort(np.concatenate(picks))


def write_test_subset(path: Path, per_class: int = SUBSET_PER_CLASS, root: Path = DEBIAN_DIR) -> Path:
    """`path` (.npz): images (n, 28, 28) uint8, labels (n,) uint8, indices (n,) into t10k, note."""
    test = read_split("t10k", root)
    idx = stratified_indices(test.labels, per_class)
    note = (f"Fashion-MNIST t10k (the official test split), the first {per_class} images of each class in "
            f"file order; indices are positions in t10k-images-idx3-ubyte.gz. {LICENCE}.")
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, images=test.images[idx], labels=test.labels[idx].astype(np.uint8),
                        indices=idx.astype(np.int32), note=np.array(note))
    return path


def read_test_subset(path: Path) -> tuple[Split, np.ndarray]:
    """The committed test subset → (its images and labels, their indices in t10k)."""
    with np.load(path, allow_pickle=False) as z:
        return Split(z["images"], z["labels"].astype(np.int64)), z["indices"].astype(np.int64)


def subset_note(path: Path) -> str:
    with np.load(path, allow_pickle=False) as z:
        return str(z["note"])


def class_slug(label: int) -> str:
    return CLASS_NAMES[label].lower().replace("/", "-").replace(" ", "-")


def enlarge(image: np.ndarray, factor: int = EXAMPLE_SCALE) -> np.ndarray:
    """(28, 28) → (28·factor, 28·factor), nearest neighbour: what the served model reads."""
    return np.repeat(np.repeat(image, factor, 0), factor, 1)


def write_examples(folder: Path, per_class: int = 2, root: Path = DEBIAN_DIR) -> list[Path]:
    """`fashion_<t10k index>_<class>.png`: the first `per_class` test images of every class, greyscale,
    enlarged 8x with nearest-neighbour sampling to 224 px (so the app's resize to 224 leaves them as they
    are and the served model sees exactly the 28-px image)."""
    from PIL import Image
    test = read_split("t10k", root)
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i in stratified_indices(test.labels, per_class):
        path = folder / f"fashion_{i:04d}_{class_slug(int(test.labels[i]))}.png"
        Image.fromarray(enlarge(test.images[i]), mode="L").save(path, optimize=True)
        out.append(path)
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--subset", type=Path, help="write the stratified test subset (.npz) here")
    ap.add_argument("--examples", type=Path, help="write 2 test images per class (PNG) into this folder")
    ap.add_argument("--root", type=Path, default=DEBIAN_DIR)
    args = ap.parse_args(argv)
    if args.subset:
        print(write_test_subset(args.subset, root=args.root))
    if args.examples:
        print("\n".join(map(str, write_examples(args.examples, root=args.root))))


if __name__ == "__main__":
    main()
