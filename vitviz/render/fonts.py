"""Text drawn with PIL: Pillow's default font for mosaics, DejaVu Sans for plots (cached masks)."""
from __future__ import annotations

import os
from functools import lru_cache

from PIL import Image, ImageDraw, ImageFont

from vitviz.render.style import TEXT_COLOUR


@lru_cache(maxsize=16)
def default_font(size: int) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1
        return ImageFont.load_default()


@lru_cache(maxsize=32)
def plot_font(size: int) -> ImageFont.ImageFont:
    """DejaVu Sans (matplotlib's font, shipped with it: has − → × ≈), else Pillow's default."""
    try:
        import matplotlib

        return ImageFont.truetype(os.path.join(matplotlib.get_data_path(), "fonts", "ttf", "DejaVuSans.ttf"), size)
    except (ImportError, OSError):
        return default_font(size)


def draw_text(draw: ImageDraw.ImageDraw, xy: tuple[float, float], text: str, size: int = 12,
              fill=TEXT_COLOUR, anchor: str = "la", plot: bool = False) -> None:
    """Draw text; plot=True uses the plots' font (DejaVu Sans) instead of Pillow's default."""
    if text:
        mask, dx, dy = text_mask(text, size, anchor, False, plot)
        draw.bitmap((round(xy[0]) + dx, round(xy[1]) + dy), mask, fill=fill)


@lru_cache(maxsize=1)
def cjk_font_path() -> str | None:
    """An installed font file with Chinese glyphs (Debian: fonts-noto-cjk), else None."""
    try:
        from matplotlib import font_manager
    except ImportError:
        return None
    for family in ("Noto Sans CJK SC", "Noto Sans CJK JP", "Noto Serif CJK SC", "WenQuanYi Zen Hei"):
        path = font_manager.findfont(font_manager.FontProperties(family=family), fallback_to_default=False) \
            if family in {f.name for f in font_manager.fontManager.ttflist} else None
        if path:
            return path
    return None


@lru_cache(maxsize=16)
def cjk_font(size: int) -> ImageFont.FreeTypeFont | None:
    path = cjk_font_path()
    return ImageFont.truetype(path, size) if path else None


def needs_cjk(text: str) -> bool:
    """True when `text` has CJK ideographs or punctuation, which DejaVu Sans lacks."""
    return any("\u2e80" <= ch <= "\u9fff" or "\uff00" <= ch <= "\uffef" for ch in text)


@lru_cache(maxsize=2048)
def text_mask(text: str, size: int, anchor: str = "la", rotate: bool = False,
              plot: bool = True) -> tuple[Image.Image, int, int]:
    """Rendered text as an 'L' mask and its offset from the anchor point (cached: labels and
    tick labels repeat from one picture to the next, and rendering glyphs is the slow part).

    rotate=True turns it 90° anticlockwise (read bottom to top), centred on the anchor point.
    """
    face = plot_font(size) if plot else default_font(size)
    if needs_cjk(text):  # Chinese labels: the CJK font when installed (callers fall back to English otherwise)
        face = cjk_font(size) or face
    x0, y0, x1, y1 = face.getbbox(text, anchor=anchor)
    mask = Image.new("L", (max(1, x1 - x0), max(1, y1 - y0)), 0)
    ImageDraw.Draw(mask).text((-x0, -y0), text, fill=255, font=face, anchor=anchor)
    if rotate:
        mask = mask.rotate(90, expand=True)
        return mask, -(mask.width // 2), -(mask.height // 2)
    return mask, x0, y0
