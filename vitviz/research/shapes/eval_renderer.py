"""An independent renderer of the six shape classes, written only to evaluate the embedded model.

    python -m vitviz.research.shapes.eval_renderer --weights vitviz/assets/models/vitviz-shapes.safetensors -n 600

Nothing in training imports this module, and it imports no drawing code from the training side
(neither ``generator`` nor ``domain_random``; tests/research/test_shapes_dr.py checks its imports).
It only borrows the model-side plumbing: ``data.to_tensor`` (the model's input normalisation) and
``metrics.rollout_batch`` (attention rollout through the product's own ``vitviz.core.capture`` and
``vitviz.analysis.attention``, the rollout the app shows).

How it differs from the training generator (``generator`` + ``domain_random``):

* **seed stream**: image ``i`` of ``seed`` comes from a Philox bit generator keyed by
  ``(RENDER_KEY, seed, i)``, not from ``default_rng([seed, step])`` (PCG64) as in training;
  classes are balanced (label ``i % 6``);
* **geometry**: its own vertex code, drawn straight onto the RGB canvas with ``ImageDraw``
  (``polygon`` / ``ellipse``, no mask compositing): a circle of radius ``r`` (the generator's
  circle is 0.92 r), a ring drawn with ``ellipse(outline=..., width=...)`` of width 25-45 % of
  ``r``, a square, an equilateral triangle, a five-pointed star of inner ratio 0.36-0.50 and a plus
  cross built as the union of two rotated bars of half-width 18-34 % of ``r``; circumradius
  ``r`` = 0.14-0.30 of the image (diameters 0.28-0.60 as in the generator), random rotation,
  anywhere inside the image;
* **edges**: aliased (PIL's default) in half of the images; in the other half the whole canvas
  is drawn at 2x or 3x and reduced with a box filter;
* **colour**: HSV sampling (any hue, saturation 0.15-1, value 0.15-1); no luminance guarantee,
  only a visibility floor of RGB distance >= 40 from the mean background under the shape;
  shapes are flat, filled, unoccluded;
* **backgrounds**: 40 % the bundled photos (``vitviz/assets/examples/*.jpg``) rescaled so the short side
  is 224-700 px, randomly cropped and sometimes rotated by 90 degrees, then tinted or not; 60 % its
  own procedural textures, none of which the generator has: ``plasma`` (a sum of 6-12 random
  coloured plane waves), ``voronoi`` (cells of random colours), ``confetti`` (hundreds of small
  random rectangles, arcs and line segments), ``plaid`` (crossed bands of random widths and
  colours) and ``speckle`` (uniform colour noise with salt-and-pepper).  No extra distractors.

Shared with training: the class names (checked equal to the generator's by the tests), the
bundled photos (as the issue asks) and the 224 px canvas.

``evaluate(model, n, seed)`` scores a model: ``top1``; ``rollout_on_shape``: the argmax patch of
the CLS row of attention rollout (mean over heads, no discarding) contains at least one shape pixel
(the mask, no dilation; ``generator.near_object_patches(mask, patch, dilate=0)`` in the generator's
terms); ``rollout_near_shape``: the same with the mask dilated by one patch (the card's
``rollout_hit_rate`` definition); ``rollout_chance``: the expected ``rollout_on_shape`` of a
uniformly random patch; ``per_class`` and ``per_background`` break ``top1`` and
``rollout_on_shape`` down.
"""
from __future__ import annotations

import argparse
import colorsys
import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

__all__ = ["CLASS_NAMES", "BACKGROUNDS", "EvalSample", "render", "render_set", "evaluate", "DEFAULT_SEED"]

CLASS_NAMES = ("circle", "square", "triangle", "star", "cross", "ring")  # the model's label order
BACKGROUNDS = ("photo", "plasma", "voronoi", "confetti", "plaid", "speckle")
RENDER_KEY = 0x5EED_E7A1  # first word of every Philox key: this renderer's own stream
DEFAULT_SEED = 2_024_12_02
_PHOTO_CACHE: list[np.ndarray] | None = None


@dataclass
class EvalSample:
    image: np.ndarray   # (H, W, 3) uint8
    label: int          # index into CLASS_NAMES
    mask: np.ndarray    # (H, W) bool: the shape's pixels
    background: str     # one of BACKGROUNDS


def _rng(seed: int, i: int) -> np.random.Generator:
    return np.random.Generator(np.random.Philox(key=[RENDER_KEY, int(seed) * 1_000_003 + int(i)]))


def _photos() -> list[np.ndarray]:
    global _PHOTO_CACHE
    if _PHOTO_CACHE is None:
        from vitviz.core.assets import ASSETS
        _PHOTO_CACHE = [np.asarray(Image.open(p).convert("RGB")) for p in sorted((Path(ASSETS) / "examples").glob("*.jpg"))]
    return _PHOTO_CACHE


# ----------------------------------------------------------------------------
# backgrounds: (size, size, 3) uint8

def _hsv(rng, s_lo=0.15, v_lo=0.15) -> tuple[int, int, int]:
    r, g, b = colorsys.hsv_to_rgb(rng.random(), rng.uniform(s_lo, 1.0), rng.uniform(v_lo, 1.0))
    return int(r * 255), int(g * 255), int(b * 255)


def _photo(rng, size: int) -> np.ndarray:
    photos = _photos()
    if not photos:
        return _plasma(rng, size)
    p = Image.fromarray(photos[int(rng.integers(len(photos)))])
    short = rng.uniform(size, 700)
    k = short / min(p.size)
    p = p.resize((max(size, int(round(p.width * k))), max(size, int(round(p.height * k)))), Image.LANCZOS)
    if rng.random() < 0.3:
        p = p.transpose(Image.Transpose.ROTATE_90)
    x0, y0 = int(rng.integers(0, p.width - size + 1)), int(rng.integers(0, p.height - size + 1))
    img = np.asarray(p.crop((x0, y0, x0 + size, y0 + size)), dtype=np.float32)
    if rng.random() < 0.4:  # tint
        img = 0.7 * img + 0.3 * np.array(_hsv(rng), np.float32)
    return np.clip(img, 0, 255).astype(np.uint8)


def _plasma(rng, size: int) -> np.ndarray:
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) / size
    img = np.zeros((size, size, 3), np.float32)
    for _ in range(int(rng.integers(6, 13))):
        fx, fy = rng.normal(0, 8, size=2)
        wave = np.sin(2 * math.pi * (fx * x + fy * y) + rng.uniform(0, 2 * math.pi))
        img += wave[..., None] * (np.array(_hsv(rng), np.float32) - 128) / 4
    img = img - img.min()
    return (img / max(float(img.max()), 1e-6) * 255).astype(np.uint8)


def _voronoi(rng, size: int) -> np.ndarray:
    k = int(rng.integers(8, 60))
    pts = rng.uniform(0, size, size=(k, 2)).astype(np.float32)
    cols = np.array([_hsv(rng) for _ in range(k)], np.uint8)
    y, x = np.mgrid[0:size, 0:size].astype(np.float32)
    d = (x[..., None] - pts[:, 0]) ** 2 + (y[..., None] - pts[:, 1]) ** 2
    return cols[d.argmin(-1)]


def _confetti(rng, size: int) -> np.ndarray:
    im = Image.new("RGB", (size, size), _hsv(rng))
    d = ImageDraw.Draw(im)
    for _ in range(int(rng.integers(150, 400))):
        x, y = rng.uniform(-10, size, size=2)
        w, h = rng.uniform(2, 14, size=2)
        kind = rng.integers(3)
        if kind == 0:
            d.rectangle([x, y, x + w, y + h], fill=_hsv(rng))
        elif kind == 1:
            d.arc([x, y, x + 3 * w, y + 3 * h], rng.uniform(0, 360), rng.uniform(0, 360), fill=_hsv(rng),
                  width=int(rng.integers(1, 3)))
        else:
            d.line([x, y, x + rng.normal(0, 12), y + rng.normal(0, 12)], fill=_hsv(rng), width=int(rng.integers(1, 3)))
    return np.asarray(im)


def _plaid(rng, size: int) -> np.ndarray:
    img = np.zeros((size, size, 3), np.float32)
    for axis in (0, 1):
        pos = 0
        band = np.zeros((size, 3), np.float32)
        while pos < size:
            w = int(rng.integers(3, 30))
            band[pos:pos + w] = _hsv(rng)
            pos += w
        img += (band[:, None, :] if axis == 0 else band[None, :, :]) / 2
    return img.astype(np.uint8)


def _speckle(rng, size: int) -> np.ndarray:
    base = np.array(_hsv(rng), np.float32)
    img = base + rng.uniform(-70, 70, size=(size, size, 3))
    salt = rng.random((size, size)) < 0.03
    img[salt] = rng.choice([0.0, 255.0], size=(int(salt.sum()), 1))
    return np.clip(img, 0, 255).astype(np.uint8)


_RECIPES = {"photo": _photo, "plasma": _plasma, "voronoi": _voronoi, "confetti": _confetti, "plaid": _plaid,
            "speckle": _speckle}


# ----------------------------------------------------------------------------
# shapes: a list of polygons (or ellipse boxes) in canvas pixels

def _rot(pts, cx, cy, a):
    c, s = math.cos(a), math.sin(a)
    return [(cx + x * c - y * s, cy + x * s + y * c) for x, y in pts]


def _regular(n, r, phase=0.0):
    return [(r * math.cos(phase + 2 * math.pi * k / n), r * math.sin(phase + 2 * math.pi * k / n)) for k in range(n)]


def _draw_shape(draw: ImageDraw.ImageDraw, name: str, cx, cy, r, a, fill, rng_params) -> None:
    """Draw class `name` (circumradius r, rotation a) with `fill` on `draw`; `rng_params` holds the
    per-image proportions so the RGB canvas and the mask get the identical shape."""
    if name == "circle":
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=fill)
    elif name == "ring":
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], outline=fill, width=max(1, int(round(rng_params["ring"] * r))))
    elif name == "square":
        draw.polygon(_rot(_regular(4, r, math.pi / 4), cx, cy, a), fill=fill)
    elif name == "triangle":
        draw.polygon(_rot(_regular(3, r, -math.pi / 2), cx, cy, a), fill=fill)
    elif name == "star":
        outer, inner = _regular(5, r, -math.pi / 2), _regular(5, rng_params["star"] * r, -math.pi / 2 + math.pi / 5)
        draw.polygon(_rot([p for pair in zip(outer, inner) for p in pair], cx, cy, a), fill=fill)
    elif name == "cross":
        h = rng_params["cross"] * r
        arm = math.sqrt(max(r * r - h * h, 1.0))  # arm tips on the circumcircle
        for bar in ([(-arm, -h), (arm, -h), (arm, h), (-arm, h)], [(-h, -arm), (h, -arm), (h, arm), (-h, arm)]):
            draw.polygon(_rot(bar, cx, cy, a), fill=fill)
    else:  # pragma: no cover
        raise ValueError(name)


def render(seed: int, i: int, size: int = 224) -> EvalSample:
    """Image ``i`` of the evaluation set ``seed`` (class ``i % 6``); deterministic."""
    rng = _rng(seed, i)
    label = i % len(CLASS_NAMES)
    name = CLASS_NAMES[label]
    background = "photo" if rng.random() < 0.4 else BACKGROUNDS[1 + int(rng.integers(len(BACKGROUNDS) - 1))]
    factor = 1 if rng.random() < 0.5 else int(rng.integers(2, 4))
    big = size * factor
    bg = Image.fromarray(_RECIPES[background](rng, size)).resize((big, big), Image.NEAREST)
    r = rng.uniform(0.14, 0.30) * big
    cx, cy = rng.uniform(r + 1, big - r - 1, size=2)
    a = rng.uniform(0, 2 * math.pi)
    params = {"ring": rng.uniform(0.25, 0.45), "star": rng.uniform(0.36, 0.50), "cross": rng.uniform(0.18, 0.34)}
    m = Image.new("L", (big, big), 0)
    _draw_shape(ImageDraw.Draw(m), name, cx, cy, r, a, 255, params)
    on = np.asarray(m) > 127
    under = np.asarray(bg, dtype=np.float32)[on].mean(axis=0)
    colour = _hsv(rng)
    for _ in range(10):
        if np.linalg.norm(np.array(colour, np.float32) - under) >= 40:
            break
        colour = _hsv(rng)
    _draw_shape(ImageDraw.Draw(bg), name, cx, cy, r, a, colour, params)
    if factor > 1:
        bg = bg.resize((size, size), Image.BOX)
        m = m.resize((size, size), Image.BOX)
    return EvalSample(np.asarray(bg.convert("RGB")), label, np.asarray(m) >= 128, background)


def render_set(n: int, seed: int = DEFAULT_SEED, size: int = 224) -> list[EvalSample]:
    return [render(seed, i, size) for i in range(n)]


# ----------------------------------------------------------------------------
# scoring

def _touched(mask: np.ndarray, patch: int, dilate: int = 0) -> np.ndarray:
    gh, gw = mask.shape[0] // patch, mask.shape[1] // patch
    on = mask[: gh * patch, : gw * patch].reshape(gh, patch, gw, patch).any(axis=(1, 3))
    if dilate:
        padded = np.pad(on, dilate)
        on = np.zeros_like(on)
        for dy in range(2 * dilate + 1):
            for dx in range(2 * dilate + 1):
                on |= padded[dy:dy + gh, dx:dx + gw]
    return on


def _rates(rows: list[tuple[bool, bool]]) -> dict:
    n = len(rows)
    return {"top1": sum(c for c, _ in rows) / max(n, 1), "rollout_on_shape": sum(h for _, h in rows) / max(n, 1), "n": n}


def evaluate(model, n: int = 600, seed: int = DEFAULT_SEED, batch_size: int = 50, samples=None) -> dict:
    """Score ``model`` (a timm ViT taking this project's 0.5/0.5-normalised input) on ``n`` images of
    this renderer → ``{top1, rollout_on_shape, n, per_class, rollout_near_shape, rollout_chance,
    per_background}`` (rates in [0, 1]; see the module docstring for the definitions)."""
    import torch

    from vitviz.research.shapes.data import to_tensor
    from vitviz.research.shapes.metrics import rollout_batch

    size = int(model.patch_embed.img_size[0])
    patch = int(model.patch_embed.patch_size[0])
    samples = samples if samples is not None else render_set(n, seed, size)
    model.eval()
    rows, near, chance = [], 0, 0.0
    with torch.no_grad():
        for first in range(0, len(samples), batch_size):
            chunk = samples[first:first + batch_size]
            logits, maps = rollout_batch(model, to_tensor(np.stack([s.image for s in chunk])))
            pred = logits.argmax(-1).numpy()
            for s, p, m in zip(chunk, pred, maps.numpy()):
                top = np.unravel_index(int(m.argmax()), m.shape)
                on = _touched(s.mask, patch)
                rows.append((int(p) == s.label, bool(on[top])))
                near += bool(_touched(s.mask, patch, 1)[top])
                chance += float(on.mean())
    out = _rates(rows)
    out["per_class"] = {c: _rates([r for r, s in zip(rows, samples) if s.label == k]) for k, c in enumerate(CLASS_NAMES)}
    out["rollout_near_shape"] = near / max(len(rows), 1)
    out["rollout_chance"] = chance / max(len(rows), 1)
    out["per_background"] = {b: _rates([r for r, s in zip(rows, samples) if s.background == b]) for b in BACKGROUNDS}
    out["seed"] = seed
    return out


def load_weights(path: str | Path):
    """A timm VisionTransformer from exported weights (``.safetensors`` + the ``.json`` card beside it)
    or from a training checkpoint (``checkpoint.pt``)."""
    import torch
    from timm.models.vision_transformer import VisionTransformer
    path = Path(path)
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file
        card = json.loads(path.with_suffix(".json").read_text())
        model = VisionTransformer(**card["model_args"])
        model.load_state_dict({k: v.float() for k, v in load_file(str(path)).items()})
    else:
        ck = torch.load(path, map_location="cpu", weights_only=False)
        model = VisionTransformer(**ck["model_args"])
        model.load_state_dict(ck["model"])
    return model.eval()


def contact_sheet(samples: list[EvalSample], cols: int = 10) -> Image.Image:
    """The images in a grid (for looking at the set, not for scoring)."""
    size = samples[0].image.shape[0]
    rows = math.ceil(len(samples) / cols)
    sheet = Image.new("RGB", (cols * size, rows * size))
    for k, s in enumerate(samples):
        sheet.paste(Image.fromarray(s.image), ((k % cols) * size, (k // cols) * size))
    return sheet


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m vitviz.research.shapes.eval_renderer", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", default=None, help="vitviz-shapes.safetensors (card .json beside it) or checkpoint.pt")
    ap.add_argument("-n", type=int, default=600)
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", default=None, help="also write the result to this file")
    ap.add_argument("--sheet", default=None, help="write a contact sheet of the first 60 images (PNG) and stop")
    a = ap.parse_args(argv)
    if a.sheet:
        contact_sheet(render_set(min(a.n, 60), a.seed)).save(a.sheet)
        return 0
    import torch
    torch.set_num_threads(a.threads)
    result = evaluate(load_weights(a.weights), a.n, a.seed)
    text = json.dumps(result, indent=2)
    print(text)
    if a.json:
        Path(a.json).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
