"""Matplotlib helpers: Figures on the Agg canvas (never pyplot's global state), drawn and released."""
from __future__ import annotations

import io
import logging
from functools import lru_cache

import numpy as np


CJK_FAMILIES = ("Noto Sans CJK SC", "Noto Sans CJK JP", "Noto Serif CJK SC", "WenQuanYi Zen Hei", "Source Han Sans SC")


@lru_cache(maxsize=1)
def cjk_family() -> str | None:
    """The first installed font family that has Chinese glyphs (Debian: fonts-noto-cjk), else None."""
    from matplotlib import font_manager

    installed = {f.name for f in font_manager.fontManager.ttflist}
    return next((name for name in CJK_FAMILIES if name in installed), None)


def figure_lang(lang: str) -> str:
    """The language figure texts can be drawn in: Chinese only with a CJK font (never tofu boxes;
    the fallback to English is logged once)."""
    if lang != "zh" or cjk_family() is not None:
        return lang
    _say_english_once()
    return "en"


@lru_cache(maxsize=1)
def _say_english_once() -> None:
    logging.getLogger("vitviz").warning(
        "No font with Chinese glyphs is installed (Debian: fonts-noto-cjk), so the figures' labels stay in English.")


@lru_cache(maxsize=1)
def _use_fonts() -> None:
    """DejaVu Sans first (matplotlib's own, for − × ≈), the CJK font as fallback for Chinese."""
    import matplotlib

    family = cjk_family()
    if family is not None:
        matplotlib.rcParams["font.family"] = ["DejaVu Sans", family]


def new_figure(width: float, height: float, dpi: int = 100):
    """A matplotlib Figure on the Agg canvas, not registered with pyplot."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    _use_fonts()
    fig = Figure(figsize=(width, height), dpi=dpi, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def figure_rgb(fig) -> np.ndarray:
    """Draw a Figure → (h, w, 3) uint8, then release it (clear it, drop its canvas)."""
    try:
        fig.canvas.draw()
        rgba = np.asarray(fig.canvas.buffer_rgba())
        return np.array(rgba[..., :3], copy=True)
    finally:
        close_figure(fig)


def figure_png(fig) -> bytes:
    """Draw a Figure as PNG bytes, then release it."""
    try:
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
        return buf.getvalue()
    finally:
        close_figure(fig)


def close_figure(fig) -> None:
    """Release a Figure made by `new_figure` (pyplot figures are closed through pyplot)."""
    import sys

    plt = sys.modules.get("matplotlib.pyplot")  # never imported here; only if someone else uses it
    number = getattr(fig, "number", None)
    if plt is not None and number is not None and plt.fignum_exists(number):
        plt.close(fig)
    fig.clear()


def line_figure(series: dict[str, np.ndarray], *, title: str = "", xlabel: str = "", ylabel: str = "",
                highlight: int | None = None, x: np.ndarray | None = None, width: float = 5.6, height: float = 2.8):
    """A small line plot of named (n,) series against x (default 0..n−1) → Figure."""
    fig = new_figure(width, height)
    ax = fig.add_subplot(1, 1, 1)
    for name, ys in series.items():
        xs = np.arange(len(ys)) if x is None else x
        ax.plot(xs, ys, marker="o", ms=3, lw=1.4, label=name)
    if highlight is not None:
        ax.axvline(highlight, color="#f4a300", lw=6, alpha=0.35)
    ax.set_title(title, fontsize=10)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.25)
    if len(series) > 1:
        ax.legend(fontsize=7, frameon=False)
    return fig
