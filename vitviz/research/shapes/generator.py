"""Procedurally generated "coloured shapes" data set for the embedded vitviz model.

Every image holds exactly one *object* -- a filled geometric shape of random
size, position, rotation and colour -- drawn on a textured background with
clutter (thin lines and small blobs).  Distractors are deliberately much
thinner / smaller than any object so they can never be confused with a class,
but they give attention something to ignore.

The generator is pure numpy + PIL.ImageDraw, deterministic given a
``numpy.random.Generator`` and cheap (~1-2 ms per 224x224 image), so it can run
in a worker process next to training.

Public API (used by other parts of vitviz)::

    CLASS_NAMES                          # tuple of class names, index == label
    ShapesConfig(...)                    # generator settings (+ difficulty knob)
    Sample(image, label, mask)           # (H,W,3) uint8, int, (H,W) bool
    generate(rng, config) -> Sample
    generate_batch(seed, n, config) -> list[Sample]
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageDraw

__all__ = [
    "CLASS_NAMES",
    "ShapesConfig",
    "Sample",
    "generate",
    "generate_batch",
    "effective_config",
    "patch_fractions",
    "shape_polygon",
    "draw_distractors",
]

CLASS_NAMES: tuple[str, ...] = ("circle", "square", "triangle", "star", "cross", "ring")


@dataclass(frozen=True)
class ShapesConfig:
    """Generator settings.

    Sizes are fractions of ``image_size`` and give the *diameter* of the
    shape's circumscribed circle.  ``difficulty`` in [0, 1] is a curriculum
    knob: at 1.0 the settings below are used as they are; towards 0 objects get
    larger and more centred, backgrounds plainer and clutter sparser (see
    :func:`effective_config`).
    """

    image_size: int = 224
    min_size: float = 0.28          # object diameter / image size
    max_size: float = 0.60
    center_jitter: float = 1.0      # 0 = centred, 1 = anywhere the object fits
    texture_strength: float = 1.0   # amplitude of background texture (0 = flat colour)
    n_lines: tuple[int, int] = (2, 6)     # thin line distractors (inclusive range)
    n_blobs: tuple[int, int] = (3, 10)    # small blob distractors (inclusive range)
    line_width: tuple[int, int] = (1, 2)
    blob_radius: tuple[int, int] = (2, 5)  # in pixels at 224; scaled with image_size
    min_contrast: float = 90.0      # min RGB distance object colour <-> local background
    min_luma_contrast: float = 70.0  # min |luma(object) - luma(local background)| (0..255):
                                     # shapes stay visible in greyscale, hue is free
    colour_randomness: float = 1.0  # 0 = grey object on opposite-polarity grey background, 1 = random colours
    difficulty: float = 1.0
    # Domain randomisation (vitviz.research.shapes.domain_random), OFF by default: the share of
    # images drawn with the randomised recipe (photo / noise backgrounds, any colour, outlines,
    # aliased or supersampled edges, occluders, wider sizes); the rest use the recipe above.
    domain_random: float = 0.0
    dr_photo: float = 0.3           # P(background = random crop of a bundled photo, vitviz/assets/examples/*.jpg)
    dr_outline: float = 0.25        # P(stroke only) for the polygon classes (a stroked circle would be a ring)
    dr_occlude: float = 0.3         # P(an occluder hides part of the shape; the mask is the visible part)
    dr_aliased: float = 0.3         # P(aliased edges); otherwise 4x supersampled (anti-aliased)
    dr_low_contrast: float = 0.25   # P(object colour close to the local background, RGB distance 30-70)
    dr_size: tuple[float, float] = (0.22, 0.65)  # object diameter / image size
    dr_min_rgb: float = 30.0        # otherwise: any colour at least this far (RGB distance) from the local background
    dr_equiluminant: float = 0.0    # P(object colour of the background's luminance, |luma diff| <= 20, and RGB
                                    # distance >= 80): hue alone tells the object from the background

    def replace(self, **kw) -> "ShapesConfig":
        return dataclasses.replace(self, **kw)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass
class Sample:
    image: np.ndarray   # (H, W, 3) uint8
    label: int          # index into CLASS_NAMES
    mask: np.ndarray    # (H, W) bool, True on the object


# "Easy" end of the curriculum (difficulty = 0).
_EASY = dict(min_size=0.55, max_size=0.75, center_jitter=0.0, texture_strength=0.0,
             n_lines=(0, 0), n_blobs=(0, 0), colour_randomness=0.0)
_LUMA = np.array([0.299, 0.587, 0.114], np.float32)
_EASY_OBJECT = np.array([225.0, 225.0, 225.0], np.float32)   # light grey
_EASY_BACKGROUND = np.array([35.0, 35.0, 35.0], np.float32)   # dark grey


def effective_config(config: ShapesConfig) -> ShapesConfig:
    """Settings actually used for ``config.difficulty`` (linear interpolation)."""
    d = float(np.clip(config.difficulty, 0.0, 1.0))
    if d >= 1.0:
        return config

    def lerp(a, b):
        return a + (b - a) * d

    return config.replace(
        min_size=lerp(_EASY["min_size"], config.min_size),
        max_size=lerp(_EASY["max_size"], config.max_size),
        center_jitter=lerp(_EASY["center_jitter"], config.center_jitter),
        texture_strength=lerp(_EASY["texture_strength"], config.texture_strength),
        colour_randomness=lerp(_EASY["colour_randomness"], config.colour_randomness),
        n_lines=(int(round(lerp(0, config.n_lines[0]))), int(round(lerp(0, config.n_lines[1])))),
        n_blobs=(int(round(lerp(0, config.n_blobs[0]))), int(round(lerp(0, config.n_blobs[1])))),
        difficulty=1.0,
    )


# ----------------------------------------------------------------------------
# background

def _background(rng: np.random.Generator, s: int, strength: float, colour_randomness: float = 1.0) -> np.ndarray:
    """Float32 (s, s, 3) background in [0, 255]."""
    base = rng.uniform(20, 235, size=3).astype(np.float32)
    # easy end: grey background, dark or light (the object gets the opposite polarity)
    easy = _EASY_BACKGROUND if rng.random() < 0.5 else _EASY_OBJECT
    base = easy + np.float32(colour_randomness) * (base - easy)
    img = np.empty((s, s, 3), np.float32)
    img[:] = base
    if strength <= 0:
        return img
    # low-frequency colour variation: small random grid, bicubic upsampled
    g = int(rng.integers(2, 7))
    low = np.clip(rng.normal(128, 40 * strength, size=(g, g, 3)), 0, 255).astype(np.uint8)
    low_img = np.asarray(Image.fromarray(low).resize((s, s), Image.BICUBIC), dtype=np.float32)
    img += low_img
    img -= 128.0
    kind = rng.integers(0, 3)
    t = np.arange(s, dtype=np.float32)
    if kind == 1:   # soft stripes: sin(a*x + b*y), separable
        ang = rng.uniform(0, math.pi)
        period = rng.uniform(8, 40) * s / 224
        a = t * (math.cos(ang) * 2 * math.pi / period)
        b = t * (math.sin(ang) * 2 * math.pi / period)
        wave = np.outer(np.cos(b), np.sin(a)) + np.outer(np.sin(b), np.cos(a))
        img += wave[..., None] * (rng.uniform(8, 22) * strength * rng.choice([-1, 1], size=3)).astype(np.float32)
    elif kind == 2:  # checker-ish mottling
        period = rng.uniform(10, 30) * s / 224
        w1 = np.sin(t * 2 * math.pi / period)
        wave = np.outer(w1, w1)
        img += wave[..., None] * np.float32(rng.uniform(8, 20) * strength)
    # fine pixel noise
    img += rng.standard_normal(size=(s, s, 1), dtype=np.float32) * np.float32(8 * strength)
    return img


# ----------------------------------------------------------------------------
# shapes

def _poly(cx, cy, radii, angles):
    return [(cx + r * math.cos(a), cy + r * math.sin(a)) for r, a in zip(radii, angles)]


def shape_polygon(label: int, cx: float, cy: float, r: float, rot: float,
                  star_inner: float = 0.42, cross_width: float = 0.36) -> list[tuple[float, float]] | None:
    """Vertices of polygon class ``label`` (square, triangle, star, cross) with circumradius ``r``
    at (cx, cy); None for the round classes (circle, ring).  ``star_inner`` is the star's inner
    radius and ``cross_width`` the cross's half arm width, both as fractions of ``r``."""
    name = CLASS_NAMES[label]
    if name == "square":
        ang = [rot + math.pi / 4 + k * math.pi / 2 for k in range(4)]
        return _poly(cx, cy, [r] * 4, ang)
    if name == "triangle":
        ang = [rot + k * 2 * math.pi / 3 for k in range(3)]
        # the triangle's bounding circle is centred (equilateral)
        return _poly(cx, cy, [r] * 3, ang)
    if name == "star":
        ang = [rot + k * math.pi / 5 for k in range(10)]
        radii = [r if k % 2 == 0 else star_inner * r for k in range(10)]
        return _poly(cx, cy, radii, ang)
    if name == "cross":
        w = cross_width * r  # half arm width
        pts = [(w, r), (w, w), (r, w), (r, -w), (w, -w), (w, -r),
               (-w, -r), (-w, -w), (-r, -w), (-r, w), (-w, w), (-w, r)]
        # the arm tips are at distance sqrt(r^2+w^2); scale to fit the circumradius
        k = 1.0 / math.hypot(1.0, cross_width)
        c, sn = math.cos(rot), math.sin(rot)
        return [(cx + k * (x * c - y * sn), cy + k * (x * sn + y * c)) for x, y in pts]
    return None


def _shape_mask(label: int, s: int, cx: float, cy: float, r: float, rot: float,
                ring_inner: float = 0.55, star_inner: float = 0.42, cross_width: float = 0.36) -> np.ndarray:
    """Boolean (s, s) mask of shape ``label`` with circumradius ``r`` at (cx, cy).

    The proportions (``ring_inner``: inner/outer radius of the ring; ``star_inner``, ``cross_width``:
    see :func:`shape_polygon`) default to the generator's fixed ones; the domain-randomised
    recipe (:mod:`vitviz.research.shapes.domain_random`) varies them."""
    m = Image.new("L", (s, s), 0)
    d = ImageDraw.Draw(m)
    name = CLASS_NAMES[label]
    if name == "circle":
        rr = 0.92 * r
        d.ellipse([cx - rr, cy - rr, cx + rr, cy + rr], fill=255)
    elif name == "ring":
        ro, ri = r, ring_inner * r
        d.ellipse([cx - ro, cy - ro, cx + ro, cy + ro], fill=255)
        d.ellipse([cx - ri, cy - ri, cx + ri, cy + ri], fill=0)
    elif name in ("square", "triangle", "star", "cross"):
        d.polygon(shape_polygon(label, cx, cy, r, rot, star_inner, cross_width), fill=255)
    else:  # pragma: no cover
        raise ValueError(label)
    return np.asarray(m) > 127


def draw_distractors(rng: np.random.Generator, img: np.ndarray, cfg: ShapesConfig) -> None:
    """Thin lines and small blobs of random colours, drawn into the float (s, s, 3) ``img``."""
    s = img.shape[0]
    scale = s / 224.0
    n_lines = int(rng.integers(cfg.n_lines[0], cfg.n_lines[1] + 1)) if cfg.n_lines[1] > 0 else 0
    n_blobs = int(rng.integers(cfg.n_blobs[0], cfg.n_blobs[1] + 1)) if cfg.n_blobs[1] > 0 else 0
    if not (n_lines or n_blobs):
        return
    layer = Image.new("L", (s, s), 0)  # index of distractor + 1
    d = ImageDraw.Draw(layer)
    colours = rng.uniform(0, 255, size=(n_lines + n_blobs + 1, 3)).astype(np.float32)
    for i in range(n_lines):
        x0, y0 = rng.uniform(0, s, size=2)
        ang = rng.uniform(0, 2 * math.pi)
        length = rng.uniform(0.3, 1.0) * s
        x1, y1 = x0 + length * math.cos(ang), y0 + length * math.sin(ang)
        w = int(rng.integers(cfg.line_width[0], cfg.line_width[1] + 1))
        d.line([(x0, y0), (x1, y1)], fill=i + 1, width=max(1, int(round(w * scale))))
    for j in range(n_blobs):
        br = rng.uniform(cfg.blob_radius[0], cfg.blob_radius[1]) * scale
        bx, by = rng.uniform(0, s, size=2)
        d.ellipse([bx - br, by - br, bx + br, by + br], fill=n_lines + j + 1)
    idx = np.asarray(layer)
    on = idx > 0
    img[on] = colours[idx[on] - 1]


def _random_colour(rng: np.random.Generator) -> np.ndarray:
    return rng.uniform(0, 255, size=3).astype(np.float32)


def generate(rng: np.random.Generator, config: ShapesConfig = ShapesConfig(), label: int | None = None) -> Sample:
    """Draw one sample.  ``label`` forces the class (otherwise uniform)."""
    cfg = effective_config(config)
    # domain randomisation (off by default; no random number is drawn when it is off, so the
    # default stream of images is unchanged)
    if cfg.domain_random > 0 and rng.random() < cfg.domain_random:
        from vitviz.research.shapes.domain_random import generate_domain_random
        return generate_domain_random(rng, cfg, label)
    s = int(cfg.image_size)
    if label is None:
        label = int(rng.integers(0, len(CLASS_NAMES)))
    img = _background(rng, s, cfg.texture_strength, cfg.colour_randomness)

    draw_distractors(rng, img, cfg)

    # the object
    diam = rng.uniform(cfg.min_size, cfg.max_size) * s
    r = diam / 2
    margin = r + 1
    span = max(0.0, s / 2 - margin) * cfg.center_jitter
    cx = s / 2 + rng.uniform(-span, span)
    cy = s / 2 + rng.uniform(-span, span)
    rot = rng.uniform(0, 2 * math.pi)
    mask = _shape_mask(label, s, cx, cy, r, rot)
    if not mask.any():  # degenerate (only for absurdly tiny images)
        mask[int(cy) % s, int(cx) % s] = True
    local = img[mask].mean(axis=0)
    cr = np.float32(cfg.colour_randomness)

    easy_obj = _EASY_OBJECT if local.mean() < 128 else _EASY_BACKGROUND  # opposite polarity

    def pick():
        return easy_obj + cr * (_random_colour(rng) - easy_obj)

    local_luma = float(local @ _LUMA)

    def ok(c):
        return np.linalg.norm(c - local) >= cfg.min_contrast and abs(float(c @ _LUMA) - local_luma) >= cfg.min_luma_contrast

    colour = pick()
    for _ in range(30):
        if ok(colour):
            break
        colour = pick()
    else:  # push away from the background colour: keep the hue, move the brightness
        target = 20.0 if local_luma > 127 else 235.0
        colour = np.clip(colour + (target - float(colour @ _LUMA)), 0, 255).astype(np.float32)
    # slight shading so the object is not a perfectly flat colour
    n_on = int(mask.sum())
    shade = rng.standard_normal(size=(n_on, 1), dtype=np.float32) * np.float32(4)
    img[mask] = colour + shade
    np.clip(img, 0, 255, out=img)
    image = img.astype(np.uint8)
    return Sample(image=image, label=int(label), mask=mask)


def generate_batch(seed: int, n: int, config: ShapesConfig = ShapesConfig(), balanced: bool = False) -> list[Sample]:
    """``n`` samples from ``np.random.default_rng(seed)``.

    With ``balanced=True`` labels cycle through the classes (0, 1, 2, ...).
    """
    rng = np.random.default_rng(seed)
    k = len(CLASS_NAMES)
    return [generate(rng, config, label=(i % k) if balanced else None) for i in range(n)]


def patch_fractions(mask: np.ndarray, patch_size: int) -> np.ndarray:
    """Fraction of each (patch_size x patch_size) patch covered by ``mask``: (gh, gw) float32."""
    h, w = mask.shape[-2:]
    gh, gw = h // patch_size, w // patch_size
    m = mask[..., : gh * patch_size, : gw * patch_size].astype(np.float32)
    m = m.reshape(*mask.shape[:-2], gh, patch_size, gw, patch_size)
    return m.mean(axis=(-3, -1))


def save_examples(out_dir, n: int = 6, seed: int = 2024, config: ShapesConfig = ShapesConfig(), prefix: str = "shapes_"):
    """Write ``n`` example PNGs (one per class, cycling) as ``{prefix}{i}_{class}.png``; returns the paths."""
    from pathlib import Path
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, s in enumerate(generate_batch(seed, n, config, balanced=True)):
        p = out / f"{prefix}{i}_{CLASS_NAMES[s.label]}.png"
        Image.fromarray(s.image).save(p, optimize=True)
        paths.append(p)
    return paths


if __name__ == "__main__":  # python -m vitviz.research.shapes.generator --out vitviz/assets/examples
    import argparse
    ap = argparse.ArgumentParser(description="write example images of the shapes data set")
    ap.add_argument("--out", default="vitviz/assets/examples")
    ap.add_argument("-n", type=int, default=6)
    ap.add_argument("--seed", type=int, default=2024)
    ap.add_argument("--size", type=int, default=224)
    a = ap.parse_args()
    for p in save_examples(a.out, a.n, a.seed, ShapesConfig(image_size=a.size)):
        print(p)


def covered_patches(mask: np.ndarray, patch_size: int, threshold: float = 0.5) -> np.ndarray:
    """(H, W) bool object mask → (gh, gw) bool: patches with ≥ `threshold` object pixels."""
    return patch_fractions(mask, patch_size) >= threshold


def near_object_patches(mask: np.ndarray, patch_size: int, dilate: int = 1) -> np.ndarray:
    """(H, W) bool object mask → (gh, gw) bool: patches touching the object, dilated by `dilate`
    patches in every direction ((2·dilate + 1)² neighbourhood, 3×3 by default)."""
    touched = patch_fractions(mask, patch_size) > 0
    gh, gw = touched.shape
    padded = np.pad(touched, dilate)
    out = np.zeros_like(touched)
    for dy in range(2 * dilate + 1):
        for dx in range(2 * dilate + 1):
            out |= padded[dy:dy + gh, dx:dx + gw]
    return out
