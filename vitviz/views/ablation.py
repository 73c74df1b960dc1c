"""Head ablation: the head picker (the layer × head overview with the switched-off heads marked),
what changed when they are off, and the head-importance map."""
from __future__ import annotations

import numpy as np

from vitviz import render as R
from vitviz.analysis.analyze import Analysis
from vitviz.views.attention import overview_image, overview_mosaic
from vitviz.views.common import overlay_with_colorbar
from vitviz.views.text import tr

OFF_COLOUR = np.array([200, 30, 30], dtype=np.float32)


def _boxes(a: Analysis) -> list[tuple[int, int, int, int]]:
    return overview_mosaic(a)[1]


def head_picker_image(a: Analysis, off: set[tuple[int, int]]) -> np.ndarray:
    """The layer × head overview; heads switched off are tinted red and crossed."""
    out = overview_image(a)
    H = a.info.num_heads
    for layer, head in off:
        y0, x0, y1, x1 = _boxes(a)[layer * H + head]
        tile = out[y0:y1, x0:x1].astype(np.float32)
        out[y0:y1, x0:x1] = (0.45 * tile + 0.55 * OFF_COLOUR).astype(np.uint8)
        n = min(y1 - y0, x1 - x0)
        idx = np.arange(n)
        for w in range(-1, 2):
            out[y0 + idx, np.clip(x0 + idx + w, x0, x1 - 1)] = 255
            out[y0 + idx, np.clip(x1 - 1 - idx + w, x0, x1 - 1)] = 255
    return out


def head_at_pixel(a: Analysis, x: float, y: float) -> tuple[int, int] | None:
    """(layer, head) of the picker tile under display pixel (x, y), or None between tiles."""
    H = a.info.num_heads
    for i, (y0, x0, y1, x1) in enumerate(_boxes(a)):
        if y0 <= y < y1 and x0 <= x < x1:
            return divmod(i, H)
    return None


def heads_label(off: set[tuple[int, int]]) -> str:
    return ", ".join(f"L{l + 1} h{h + 1}" for l, h in sorted(off)) or "—"


def ablation_text(a: Analysis, ablated: Analysis, off: set[tuple[int, int]], mode: str, lang: str) -> str:
    """Markdown: which heads were off, the top class's probability before and after, both top-5s."""
    if not a.predictions:
        return tr("no_head", lang, c=a.info.embed_dim)
    top = a.predictions[0]
    probs = _softmax(ablated.logits)
    after = float(probs[top.index])
    rows = [tr("ablation_head", lang), "|---|---|"]
    for on, off_ in zip(a.predictions, ablated.predictions):
        rows.append(f"| {on.name} {on.probability:.1%} | {off_.name} {off_.probability:.1%} |")
    summary = tr("ablation_summary", lang, heads=heads_label(off), mode=tr(f"ablation_mode_{mode}", lang),
                 name=top.name, before=top.probability, after=after, delta=after - top.probability)
    return summary + "\n\n" + "\n".join(rows)


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max())
    return e / e.sum()


def ablated_rollout_image(ablated: Analysis) -> np.ndarray:
    return overlay_with_colorbar(ablated, ablated.rollout, "rollout weight (heads off)")


def importance_image(a: Analysis, drops: np.ndarray, lang: str = "en") -> np.ndarray:
    """L × H: Δ log-probability of the top class when each head alone is switched off."""
    L, H = drops.shape
    lang = R.figure_lang(lang)
    lim = float(np.abs(drops).max()) or 1.0
    fig = R.new_figure(1.4 + 0.42 * H, 1.0 + 0.34 * L)
    ax = fig.add_subplot(1, 1, 1)
    im = ax.imshow(drops, cmap=R.DIVERGING_CMAP, vmin=-lim, vmax=lim, aspect="auto")
    if L * H <= 200:
        for l in range(L):
            for h in range(H):
                ax.text(h, l, f"{drops[l, h]:.2f}", ha="center", va="center", fontsize=6.5,
                        color="white" if abs(drops[l, h]) > 0.6 * lim else "black")
    ax.set_xticks(range(H), [f"h{h + 1}" for h in range(H)], fontsize=7)
    ax.set_yticks(range(L), [f"L{l + 1}" for l in range(L)], fontsize=7)
    ax.set_title(tr("fig_importance_title", lang, name=a.predictions[0].name if a.predictions else ""), fontsize=9)
    fig.colorbar(im, ax=ax, shrink=0.8, label=tr("fig_importance_bar", lang))
    return R.figure_rgb(fig)


def importance_text(a: Analysis, drops: np.ndarray, lang: str) -> str:
    flat = np.argsort(-drops, axis=None)[:3]
    H = drops.shape[1]
    top = ", ".join(f"L{i // H + 1} h{i % H + 1} ({drops.flat[i]:+.2f})" for i in flat)
    return tr("importance_summary", lang, top=top, n=drops.size, helpful=int((drops > 0.05).sum()),
              harmful=int((drops < -0.05).sum()))
