"""The residual stream after every block: the logit lens (the prediction forming through the
depth) and token norms (high-norm artifact tokens; what registers are for)."""
from __future__ import annotations

import numpy as np

from vitviz import render as R
from vitviz.analysis.analyze import Analysis
from vitviz.views.common import display_factor, labelled_colorbar, overlay_with_colorbar
from vitviz.views.text import tr

TOP = 5


def _name(a: Analysis, index: int) -> str:
    return a.class_names[index] if index < len(a.class_names) else str(index)


def lens_sentence(a: Analysis, lang: str) -> str:
    """One sentence read from the numbers: when the final answer takes the lead for good."""
    lens = a.logit_lens
    if lens is None:
        return tr("lens_no_head", lang, c=a.info.embed_dim)
    p = lens.probabilities
    block, L = lens.first_lead, a.info.depth
    key = "lens_lead_first" if block == 1 else "lens_lead"
    return tr(key, lang, name=_name(a, lens.final_class), block=block, depth=L,
              p_then=float(p[block - 1, lens.final_class]), p_end=float(p[-1, lens.final_class]))


def lens_table(a: Analysis, lang: str) -> str:
    """Markdown: every block's own top 5 with probabilities (the final answer in bold)."""
    lens = a.logit_lens
    if lens is None:
        return ""
    p = lens.probabilities
    rows = [tr("lens_table_head", lang), "|---|---|"]
    for l in range(len(p)):
        top = np.argsort(-p[l], kind="stable")[:TOP]
        cells = [(f"**{_name(a, i)}**" if i == lens.final_class else _name(a, i)) + f" {p[l, i]:.0%}" for i in top]
        rows.append(f"| {l + 1} | " + " · ".join(cells) + " |")
    return "\n".join(rows)


def lens_image(a: Analysis, lang: str = "en") -> np.ndarray | None:
    """Blocks × the final top-5 classes: each block's probability of each, numbers written in."""
    lens = a.logit_lens
    if lens is None:
        return None
    lang = R.figure_lang(lang)
    classes = [p.index for p in a.predictions[:TOP]] or [lens.final_class]
    probs = lens.probabilities[:, classes]  # L, k
    L = len(probs)
    fig = R.new_figure(1.6 + 1.25 * len(classes), 0.9 + 0.32 * L)
    ax = fig.add_subplot(1, 1, 1)
    top = max(float(probs.max()), 0.05)  # one scale for the whole figure; a near-uniform guess stays dark
    im = ax.imshow(probs, cmap=R.SIGNED_CMAP, vmin=0.0, vmax=top, aspect="auto")
    for l in range(L):
        for k in range(len(classes)):
            v = probs[l, k]
            ax.text(k, l, f"{v:.0%}" if v >= 0.1 else f"{v:.1%}", ha="center", va="center", fontsize=8,
                    color="white" if v < 0.6 * top else "black")
    fig.colorbar(im, ax=ax, shrink=0.8, format=lambda v, _: f"{v:.0%}")
    ax.set_xticks(range(len(classes)), [_short(_name(a, c)) for c in classes], fontsize=8)
    ax.set_yticks(range(L), [str(l + 1) for l in range(L)], fontsize=8)
    ax.set_ylabel(tr("fig_block", lang))
    ax.set_title(tr("fig_lens_title", lang), fontsize=10)
    return R.figure_rgb(fig)


def _short(name: str, width: int = 14) -> str:
    name = name.split(",")[0]
    return name if len(name) <= width else name[: width - 1] + "…"


def lens_patch_image(a: Analysis, layer: int, lang: str = "en") -> np.ndarray | None:
    """Each patch token's own reading after block `layer` (0-based): its probability of the final
    answer, on one scale for every block so the maps can be compared."""
    lens = a.logit_lens
    if lens is None:
        return None
    top = float(lens.patch_probability.max())
    big = R.overlay(a.image, lens.patch_probability[layer], alpha=0.7, vmin=0.0, vmax=max(top, 1e-6),
                    cmap=R.SIGNED_CMAP)
    label = tr("fig_lens_patch", R.figure_lang(lang), name=_short(_name(a, lens.final_class), 24))
    return labelled_colorbar(big, 0.0, max(top, 1e-6), label, lang, R.SIGNED_CMAP)


def lens_patch_text(a: Analysis, layer: int, lang: str) -> str:
    lens = a.logit_lens
    if lens is None:
        return ""
    agree = float((lens.patch_top[layer] == lens.final_class).mean())
    return tr("lens_patches", lang, block=layer + 1, share=agree, name=_name(a, lens.final_class))


def norms_image(a: Analysis, layer: int, lang: str = "en") -> np.ndarray:
    """After block `layer` (0-based; −1 = the input of block 1): the patch tokens' norms over the
    image, high-norm tokens framed; beside it, every prefix token's norm through the depth."""
    tn = a.token_norms
    depth = layer + 1
    p0 = tn.num_prefix
    patch = tn.norms[depth, p0:].reshape(a.info.grid)
    big = overlay_with_colorbar(a, patch, tr("fig_token_norm", R.figure_lang(lang)), lang)
    flagged = tn.high_norm()[depth, p0:].reshape(a.info.grid)
    f = display_factor(a)
    for r, c in zip(*np.nonzero(flagged)):
        big = R.mark_patch(big, a.grid, (int(r), int(c)), f, mark=(0, 230, 255))
    return big


def norms_depth_image(a: Analysis, layer: int, lang: str = "en") -> np.ndarray:
    """Median and largest patch-token norm and each prefix token's norm, entering block 1 and after each block."""
    tn = a.token_norms
    p0 = tn.num_prefix
    lang = R.figure_lang(lang)
    series = {tr("fig_median_patch", lang): tn.median_patch_norm, tr("fig_max_patch", lang): tn.norms[:, p0:].max(1)}
    for i, name in enumerate(a.info.prefix_names):
        series[name] = tn.norms[:, i]
    fig = R.line_figure(series, title=tr("fig_norms_title", lang), xlabel=tr("fig_after_block", lang),
                        ylabel="‖x‖", highlight=layer + 1)
    fig.axes[0].set_xticks(range(0, len(tn.norms), max(1, len(tn.norms) // 12)))
    return R.figure_rgb(fig)


def norms_text(a: Analysis, layer: int, lang: str) -> str:
    """What the norms after block `layer` say, and what registers are for when the model has them."""
    tn = a.token_norms
    depth = layer + 1
    p0 = tn.num_prefix
    flagged = np.nonzero(tn.high_norm()[depth, p0:])[0]
    gw = a.info.grid[1]
    where = ", ".join(f"({i // gw}, {i % gw})" for i in flagged[:8]) + (" …" if len(flagged) > 8 else "")
    text = tr("norms_summary", lang, block=depth, median=float(tn.median_patch_norm[depth]),
              n=len(flagged), where=where or "—")
    registers = sum(name.startswith("REG") for name in a.info.prefix_names)
    text += " " + tr("norms_registers" if registers else "norms_no_registers", lang, r=registers)
    return text
