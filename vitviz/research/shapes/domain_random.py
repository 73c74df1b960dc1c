"""Domain-randomised training images for the embedded model (``ShapesConfig.domain_random``).

The plain generator draws every object as a flat, luminance-contrasted fill on one family of soft
textures, which the model learned too well: on shapes drawn by other code it was barely above
chance.  This recipe draws the same six classes with the generator's own geometry
(:func:`generator._shape_mask` / :func:`generator.shape_polygon`, with randomised proportions) but
randomises everything else:

* **background**: a random crop (random scale, flip, sometimes a channel permutation) of a bundled
  photo (``vitviz/assets/examples/*.jpg``, found through :data:`vitviz.core.model.ASSETS`), or one of the
  noise families -- multi-octave value noise mapped through a random palette, hard or soft stripes,
  rotated checkers, linear / radial gradients, Gaussian colour noise of random grain, blurred
  colour blobs, the generator's own texture -- sometimes two of them blended; then (often) the
  generator's thin-line / small-blob distractors;
* **colour**: any RGB colour (only a floor, ``dr_min_rgb``, in RGB distance from the mean background
  under the shape, no luminance guarantee), a share close to the background (distance 30-70) and
  (``dr_equiluminant``) a share of the background's luminance but another hue, so that hue alone
  separates them; flat with a little noise, a linear gradient or a noise texture; sometimes
  slightly transparent;
* **outline**: the polygon classes are sometimes drawn as a stroke only (width 8-22 % of the
  radius); circles and rings are always filled, since a stroked circle is a ring;
* **edges**: 4x supersampled (anti-aliased) or aliased;
* **occlusion**: a band across the image or an irregular blob, filled with a colour or texture,
  hiding 10-45 % of the shape;
* **size**: ``dr_size`` (wider than the plain recipe);
* a little blur and pixel noise afterwards.

The mask is always what is visible: the drawn coverage (>= 0.5 of a pixel) minus the occluder
(>= 0.5), so the outline's mask is the stroke and an occluded shape's mask excludes the occluder;
token labels (patch fractions of the mask) follow from it.  Deterministic given the rng.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from vitviz.research.shapes.generator import (CLASS_NAMES, Sample, ShapesConfig, _background, _shape_mask,
                                              draw_distractors, shape_polygon)

__all__ = ["generate_domain_random", "photo_paths", "BACKGROUND_KINDS"]

BACKGROUND_KINDS = ("photo", "value_noise", "stripes", "checkers", "gradient", "gaussian", "blobs", "plain_texture")
ROUND = {CLASS_NAMES.index("circle"), CLASS_NAMES.index("ring")}
SUPERSAMPLE = 4
_PHOTOS: list[np.ndarray] | None = None


def photo_paths() -> list[Path]:
    """The bundled photos, sorted (``vitviz/assets/examples/*.jpg`` where vitviz.core.model finds its assets)."""
    from vitviz.core.assets import ASSETS
    return sorted((Path(ASSETS) / "examples").glob("*.jpg"))


def _photos() -> list[np.ndarray]:
    global _PHOTOS
    if _PHOTOS is None:
        _PHOTOS = [np.asarray(Image.open(p).convert("RGB")) for p in photo_paths()]
    return _PHOTOS


# ----------------------------------------------------------------------------
# backgrounds (float32 (s, s, 3) in [0, 255])

def _colour(rng) -> np.ndarray:
    return rng.uniform(0, 255, size=3).astype(np.float32)


def _palette(rng, t: np.ndarray) -> np.ndarray:
    """Map t in [0, 1] (s, s) through a random 2- or 3-colour palette."""
    if rng.random() < 0.5:
        c0, c1 = _colour(rng), _colour(rng)
        return c0 + t[..., None] * (c1 - c0)
    c0, c1, c2 = _colour(rng), _colour(rng), _colour(rng)
    lo = np.clip(2 * t, 0, 1)[..., None]
    hi = np.clip(2 * t - 1, 0, 1)[..., None]
    return c0 + lo * (c1 - c0) + hi * (c2 - c1)


def _upsample(grid: np.ndarray, s: int) -> np.ndarray:
    return np.asarray(Image.fromarray(grid.astype(np.float32), mode="F").resize((s, s), Image.BICUBIC))


def value_noise(rng, s: int) -> np.ndarray:
    """Multi-octave value noise (Perlin-like), (s, s) in [0, 1]."""
    g = int(rng.integers(2, 6))
    octaves = int(rng.integers(2, 6))
    persistence = rng.uniform(0.35, 0.7)
    out, amp = np.zeros((s, s), np.float32), 1.0
    for _ in range(octaves):
        out += amp * _upsample(rng.random((g, g)), s)
        amp *= persistence
        g = min(g * 2, s)
    out -= out.min()
    return out / max(float(out.max()), 1e-6)


def _coords(rng, s: int):
    y, x = np.mgrid[0:s, 0:s].astype(np.float32)
    ang = rng.uniform(0, math.pi)
    return x * math.cos(ang) + y * math.sin(ang), -x * math.sin(ang) + y * math.cos(ang)


def _photo_crop(rng, s: int) -> np.ndarray | None:
    photos = _photos()
    if not photos:
        return None
    p = photos[int(rng.integers(len(photos)))]
    h, w = p.shape[:2]
    side = int(rng.uniform(0.3, 1.0) * min(h, w))
    y0, x0 = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
    crop = Image.fromarray(p[y0:y0 + side, x0:x0 + side]).resize((s, s), Image.BILINEAR)
    img = np.asarray(crop, dtype=np.float32)
    if rng.random() < 0.5:
        img = img[:, ::-1]
    if rng.random() < 0.2:
        img = img[..., rng.permutation(3)]
    return np.ascontiguousarray(img)


def _one_background(rng, s: int, kind: str) -> np.ndarray:
    scale = s / 224.0
    if kind == "photo":
        img = _photo_crop(rng, s)
        if img is not None:
            return img
        kind = "value_noise"
    if kind == "value_noise":
        return _palette(rng, value_noise(rng, s))
    if kind == "stripes":
        u, _ = _coords(rng, s)
        t = u / (rng.uniform(5, 40) * scale)
        t = (np.floor(t) % 2) if rng.random() < 0.5 else 0.5 + 0.5 * np.sin(2 * math.pi * t)
        return _palette(rng, t.astype(np.float32))
    if kind == "checkers":
        u, v = _coords(rng, s)
        period = rng.uniform(6, 40) * scale
        return _palette(rng, ((np.floor(u / period) + np.floor(v / period)) % 2).astype(np.float32))
    if kind == "gradient":
        if rng.random() < 0.5:
            u, _ = _coords(rng, s)
        else:
            y, x = np.mgrid[0:s, 0:s].astype(np.float32)
            c = rng.uniform(0, s, size=2)
            u = np.hypot(x - c[0], y - c[1])
        u = u - u.min()
        return _palette(rng, (u / max(float(u.max()), 1e-6)).astype(np.float32))
    if kind == "gaussian":
        grain = int(rng.integers(1, 4))
        n = max(1, s // grain)
        noise = rng.standard_normal((n, n, 3)).astype(np.float32) * np.float32(rng.uniform(15, 60))
        noise = np.stack([_upsample(noise[..., c], s) for c in range(3)], -1) if n != s else noise
        return _colour(rng) + noise
    if kind == "blobs":
        canvas = Image.new("RGB", (s, s), tuple(int(v) for v in _colour(rng)))
        d = ImageDraw.Draw(canvas)
        for _ in range(int(rng.integers(5, 30))):
            cx, cy = rng.uniform(0, s, size=2)
            rx, ry = rng.uniform(5, 60, size=2) * scale
            d.ellipse([cx - rx, cy - ry, cx + rx, cy + ry], fill=tuple(int(v) for v in _colour(rng)))
        canvas = canvas.filter(ImageFilter.GaussianBlur(rng.uniform(2, 12) * scale))
        return np.asarray(canvas, dtype=np.float32)
    return _background(rng, s, rng.uniform(0.5, 2.0))  # the plain generator's texture


def _dr_background(rng, s: int, cfg: ShapesConfig) -> np.ndarray:
    def pick():
        if rng.random() < cfg.dr_photo:
            return "photo"
        return BACKGROUND_KINDS[1 + int(rng.integers(len(BACKGROUND_KINDS) - 1))]

    img = _one_background(rng, s, pick())
    if rng.random() < 0.25:
        a = np.float32(rng.uniform(0.25, 0.6))
        img = (1 - a) * img + a * _one_background(rng, s, pick())
    return np.clip(img, 0, 255).astype(np.float32)


# ----------------------------------------------------------------------------
# the object

def _coverage(big: np.ndarray, ss: int) -> np.ndarray:
    """Supersampled bool mask → (s, s) float32 coverage in [0, 1]."""
    if ss == 1:
        return big.astype(np.float32)
    s = big.shape[0] // ss
    return big.reshape(s, ss, s, ss).mean(axis=(1, 3), dtype=np.float32)


def _shape_coverage(rng, label: int, s: int, ss: int, cx, cy, r, rot, outline_width: float | None) -> np.ndarray:
    """Coverage of the (filled or stroked) shape, with randomised proportions."""
    ring_inner, star_inner, cross_width = rng.uniform(0.42, 0.7), rng.uniform(0.32, 0.55), rng.uniform(0.24, 0.46)
    big = _shape_mask(label, s * ss, cx * ss, cy * ss, r * ss, rot, ring_inner, star_inner, cross_width)
    if outline_width is not None:  # stroke only: the filled polygon ∩ a band of 2*width around its edges
        pts = shape_polygon(label, cx * ss, cy * ss, r * ss, rot, star_inner, cross_width)
        band = Image.new("L", (s * ss, s * ss), 0)
        ImageDraw.Draw(band).line(pts + [pts[0]], fill=255, width=max(1, int(round(2 * outline_width * ss))),
                                  joint="curve")
        big &= np.asarray(band) > 127
    return _coverage(big, ss)


def _fill(rng, s: int, colour: np.ndarray) -> np.ndarray:
    """(s, s, 3) float fill: flat with a little noise, a linear gradient or a noise texture."""
    k = rng.random()
    if k < 0.5:
        return colour + rng.standard_normal((s, s, 1)).astype(np.float32) * np.float32(rng.uniform(0, 6))
    if k < 0.75:
        u, _ = _coords(rng, s)
        u = (u - u.min()) / max(float(u.max() - u.min()), 1e-6)
        other = np.clip(colour + rng.normal(0, 50, size=3), 0, 255).astype(np.float32)
        return colour + u[..., None] * (other - colour)
    return colour + (value_noise(rng, s)[..., None] - 0.5) * np.float32(rng.uniform(20, 60))


def _object_colour(rng, local: np.ndarray, low_contrast: bool, floor: float = 30.0) -> np.ndarray:
    """Any colour at RGB distance >= ``floor`` from ``local`` (30-70 when ``low_contrast``)."""
    c = _colour(rng)
    for _ in range(20):
        if low_contrast:
            d = rng.normal(size=3)
            c = np.clip(local + d / max(np.linalg.norm(d), 1e-6) * rng.uniform(30, 70), 0, 255).astype(np.float32)
        else:
            c = _colour(rng)
        dist = float(np.linalg.norm(c - local))
        if dist >= (30 if low_contrast else floor) and (not low_contrast or dist <= 70):
            break
    return c


def _equiluminant_colour(rng, local: np.ndarray) -> np.ndarray:
    """A colour of about the luminance of ``local`` (within 20) but a different hue (RGB distance >= 80)."""
    luma = np.array([0.299, 0.587, 0.114], np.float32)
    target = float(local @ luma)
    best, best_gap = _colour(rng), np.inf
    for _ in range(40):
        c = _colour(rng)
        c = np.clip(c + (target - float(c @ luma)), 0, 255).astype(np.float32)  # shift to the target luminance
        gap = abs(float(c @ luma) - target)
        if np.linalg.norm(c - local) >= 80 and gap <= 20:
            return c
        if gap < best_gap and np.linalg.norm(c - local) >= 50:
            best, best_gap = c, gap
    return best


def _occluder(rng, s: int, ss: int, shape_cov: np.ndarray, cx, cy, r) -> np.ndarray | None:
    """Coverage of a band or blob hiding 10-45 % of the shape (None if no placement was found)."""
    shape = shape_cov >= 0.5
    area = int(shape.sum())
    if area < 4:
        return None
    ys, xs = np.nonzero(shape)
    for _ in range(6):
        i = int(rng.integers(len(xs)))
        px, py = (xs[i] + 0.5 - cx), (ys[i] + 0.5 - cy)
        out = rng.uniform(0.0, 0.6)  # push the occluder's centre outwards from the shape's centre
        px, py = cx + px * (1 + out), cy + py * (1 + out)
        m = Image.new("L", (s * ss, s * ss), 0)
        d = ImageDraw.Draw(m)
        if rng.random() < 0.6:  # a band across the image
            ang = rng.uniform(0, math.pi)
            hw, L = rng.uniform(0.12, 0.35) * r, 3 * s
            ux, uy, vx, vy = math.cos(ang), math.sin(ang), -math.sin(ang), math.cos(ang)
            pts = [(px + a * L * ux + b * hw * vx, py + a * L * uy + b * hw * vy) for a, b in ((-1, -1), (1, -1), (1, 1), (-1, 1))]
        else:  # an irregular blob
            big_r, n = rng.uniform(0.3, 0.75) * r, int(rng.integers(7, 13))
            ang0 = rng.uniform(0, 2 * math.pi)
            rad = big_r * rng.uniform(0.45, 1.35, size=n)
            pts = [(px + rad[k] * math.cos(ang0 + 2 * math.pi * k / n),
                    py + rad[k] * math.sin(ang0 + 2 * math.pi * k / n)) for k in range(n)]
        d.polygon([(x * ss, y * ss) for x, y in pts], fill=255)
        occ = _coverage(np.asarray(m) > 127, ss)
        hidden = 1.0 - (shape & (occ < 0.5)).sum() / area
        if 0.1 <= hidden <= 0.45:
            return occ
    return None


def _opacity(rng) -> np.float32:
    """Mostly opaque, sometimes slightly transparent."""
    return np.float32(1.0 if rng.random() < 0.8 else rng.uniform(0.75, 0.95))


def _post(rng, img: np.ndarray) -> np.ndarray:
    """A little blur (sometimes) and pixel noise (often), after everything is drawn."""
    s = img.shape[0]
    if rng.random() < 0.25:
        pil = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))
        img = np.asarray(pil.filter(ImageFilter.GaussianBlur(rng.uniform(0.4, 1.1) * s / 224)), dtype=np.float32)
    if rng.random() < 0.5:
        img = img + rng.standard_normal((s, s, 1)).astype(np.float32) * np.float32(rng.uniform(1, 10))
    return img


def generate_domain_random(rng: np.random.Generator, cfg: ShapesConfig, label: int | None = None) -> Sample:
    """One domain-randomised sample (see the module docstring); ``cfg`` is an effective config."""
    s = int(cfg.image_size)
    if label is None:
        label = int(rng.integers(0, len(CLASS_NAMES)))
    img = _dr_background(rng, s, cfg)
    if rng.random() < 0.6:
        draw_distractors(rng, img, cfg)

    r = rng.uniform(*cfg.dr_size) * s / 2
    span = max(0.0, s / 2 - r - 1) * cfg.center_jitter
    cx, cy = s / 2 + rng.uniform(-span, span), s / 2 + rng.uniform(-span, span)
    rot = rng.uniform(0, 2 * math.pi)
    ss = 1 if rng.random() < cfg.dr_aliased else SUPERSAMPLE
    outline = None
    if label not in ROUND and rng.random() < cfg.dr_outline:
        outline = max(3.0 * s / 224, rng.uniform(0.08, 0.22) * r)
    cov = _shape_coverage(rng, label, s, ss, cx, cy, r, rot, outline)
    core = cov >= 0.5
    local = img[core].mean(axis=0) if core.any() else img.reshape(-1, 3).mean(axis=0)
    low = rng.random() < cfg.dr_low_contrast
    if cfg.dr_equiluminant > 0 and rng.random() < cfg.dr_equiluminant:
        colour = _equiluminant_colour(rng, local)
    else:
        colour = _object_colour(rng, local, low, cfg.dr_min_rgb)
    alpha = cov[..., None] * _opacity(rng)
    img = img * (1 - alpha) + _fill(rng, s, colour) * alpha

    mask = core
    if rng.random() < cfg.dr_occlude:
        occ = _occluder(rng, s, ss, cov, cx, cy, r)
        if occ is not None:
            occ_fill = (_one_background(rng, s, BACKGROUND_KINDS[int(rng.integers(len(BACKGROUND_KINDS)))])
                        if rng.random() < 0.5 else np.broadcast_to(_colour(rng), (s, s, 3)))
            img = img * (1 - occ[..., None]) + occ_fill * occ[..., None]
            mask = core & (occ < 0.5)

    img = _post(rng, img)
    if not mask.any():  # degenerate (tiny images only)
        mask = mask.copy()
        mask[int(cy) % s, int(cx) % s] = True
    return Sample(image=np.clip(img, 0, 255).astype(np.uint8), label=int(label), mask=mask)
