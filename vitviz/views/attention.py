"""Section 3, attention: per-head maps, the layer × head overview, the query token's attention,
attention distance, the neuron view (how one attention row is computed) and the block walkthrough.

The neuron view's numbers come from `vitviz.analysis.neuron.query_computation` (computed
there on demand and cached per analysis); the pictures here only draw them.
"""
from __future__ import annotations

import math

import numpy as np

from vitviz import render as R
from vitviz.analysis.analyze import Analysis
from vitviz.analysis.neuron import AttentionComputation, attention_scale, depth_measurements, query_computation
from vitviz.core.model import ModelInfo
from vitviz.views.common import (DERIVED, WIDE, ViewSettings, display_factor, fmt, frame, head_cols,
                                 labelled_colorbar, layer_head_mosaic, query_token, readout_name, token_label)
from vitviz.views.text import tr


def attention_text(info: ModelInfo, lang: str) -> str:
    return tr("sec_c", lang) + "\n\n" + tr("expl_c", lang, readout=readout_name(info, lang), **fmt(info))


def head_names(heads: int, lang: str) -> list[str]:
    """"head 1" … "head H" in `lang` (already `R.figure_lang`ed: these are drawn into figures)."""
    return [tr("x_head_n", lang, head=h + 1) for h in range(heads)]


def layer_heads_image(a: Analysis, layer: int, lang: str = "en") -> np.ndarray:
    """The readout token's attention in one layer, one tile per head, over the image."""
    maps = a.cls_attention[layer]
    H = maps.shape[0]
    cols = head_cols(H)
    size = min(200, WIDE // cols)
    tiles = R.map_tiles(maps, size=size, image=a.image)
    return R.tile_grid(tiles, math.ceil(H / cols), cols, labels=head_names(H, R.figure_lang(lang)))


def overview_mosaic(a: Analysis) -> tuple[np.ndarray, list[tuple[int, int, int, int]]]:
    """The layer × head mosaic of the readout attention (read-only) and the box of every tile,
    drawn once per analysis."""
    def compute():
        mosaic, boxes = layer_head_mosaic(a.cls_attention)
        mosaic.setflags(write=False)
        return mosaic, boxes

    return DERIVED.get(a, "overview", compute)


def overview_image(a: Analysis, layer: int | None = None) -> np.ndarray:
    """Layer × head overview of the readout attention (each tile on its own scale).

    The mosaic depends only on the analysis (drawn once, cached); the chosen layer's row is
    framed on a copy.
    """
    L, H = a.cls_attention.shape[:2]
    mosaic, boxes = overview_mosaic(a)
    out = mosaic.copy()
    if layer is not None and 0 <= layer < L:
        for y0, x0, y1, x1 in boxes[layer * H:(layer + 1) * H]:
            frame(out[y0:y1, x0:x1], colour=(255, 215, 0), width=2)
    return out


def query_image(a: Analysis, s: ViewSettings) -> np.ndarray:
    """What the query token attends to in the chosen layer and head, over the image, with a colour bar."""
    token = query_token(a, s)
    m = a.query_attention(token)[s.layer, s.head]
    lo, hi = float(m.min()), float(m.max())
    big = R.overlay(a.image, m, alpha=0.65, vmin=lo, vmax=hi)
    if a.grid.token_position(token) is not None:
        big = R.mark_patch(big, a.grid, s.patch, display_factor(a))
    return labelled_colorbar(big, lo, hi, tr("fig_attention_weight", R.figure_lang(s.lang)), s.lang)


def distance_image(a: Analysis, layer: int | None = None, lang: str = "en") -> np.ndarray:
    """Mean attention distance of every head through the depth; `layer` (0-based) shaded if given."""
    lang = R.figure_lang(lang)
    return R.attention_distance_image(a.attention_distance, a.info.patch_size, highlight_layer=layer,
                                      title=tr("fig_distance_title", lang), xlabel=tr("fig_distance_x", lang),
                                      ylabel=tr("fig_distance_y", lang), head_labels=head_names(a.info.num_heads, lang),
                                      reference_label=tr("fig_one_patch", lang, px=a.info.patch_size[0]))


def distance_text(info: ModelInfo, lang: str) -> str:
    return tr("distance_expl", lang, **fmt(info))


def neuron_text(model, a: Analysis, s: ViewSettings, comp: AttentionComputation | None = None) -> str:
    """Markdown explaining q, keys, scores and softmax for the query token (chosen layer/head).

    comp: the numbers (`query_computation(model, a, s.layer, s.head, query_token(a, s))`,
    looked up, from its cache, if not given).
    """
    token = query_token(a, s)
    comp = comp or query_computation(model, a, s.layer, s.head, token)
    top = int(np.argmax(comp.probs))
    return tr("sub_neuron", s.lang) + "\n\n" + tr(
        "expl_neuron", s.lang, query=token_label(a, token, s.lang), layer=s.layer + 1, head=s.head + 1,
        d=comp.head_dim, n=a.info.num_tokens, scale=comp.scale, top=token_label(a, top, s.lang),
        top_p=float(comp.probs[top]),
        entropy=comp.entropy, max_entropy=math.log(a.info.num_tokens))


def neuron_words(lang: str) -> R.NeuronWords:
    """The neuron view's axis names and marks in `lang` (already `R.figure_lang`ed)."""
    return R.NeuronWords(dimension=tr("fig_head_dim", lang), token=tr("fig_token", lang),
                         query=tr("fig_query_mark", lang), uniform=tr("fig_uniform", lang),
                         maximum=tr("fig_max", lang), key_index=tr("fig_key_index", lang),
                         prefix_note=tr("fig_prefix_note", lang))


def neuron_image(a: Analysis, comp: AttentionComputation, lang: str = "en") -> np.ndarray:
    """The figure of q, keys, scores and softmax of one computed attention row."""
    lang = R.figure_lang(lang)
    labels = [token_label(a, i, lang) for i in range(a.info.num_tokens)]
    token, d, n = comp.query_token, comp.head_dim, a.info.num_tokens
    titles = (tr("fig_q_title", lang, query=labels[token], d=d), tr("fig_k_title", lang, n=n, d=d),
              tr("fig_scores_title", lang, scale=comp.scale, n=n), tr("fig_softmax_title", lang, n=n))
    return R.attention_computation_image(comp.query, comp.keys, comp.scores, comp.probs, labels, labels[token],
                                         comp.scale, num_prefix=a.info.num_prefix_tokens, query_token=token,
                                         titles=titles, words=neuron_words(lang))


def neuron_view(model, a: Analysis, s: ViewSettings) -> tuple[str, np.ndarray]:
    """Markdown + figure of q, keys, scores and softmax for the query token (chosen layer/head)."""
    comp = query_computation(model, a, s.layer, s.head, query_token(a, s))
    return neuron_text(model, a, s, comp), neuron_image(a, comp, s.lang)


def block_text(a: Analysis, s: ViewSettings, model=None) -> str:
    """The path through block `s.layer` with real shapes and one measurement per step.

    model: the loaded model, for the block's own attention scale (else head_dim ** −0.5).
    """
    info = a.info
    f = fmt(info)
    lang = s.lang
    l = s.layer
    norms, ent = depth_measurements(a)
    self_att = float(np.diagonal(a.attention[l].astype(np.float32), axis1=-2, axis2=-1).mean())
    scale = info.head_dim ** -0.5 if model is None else attention_scale(model, l)
    values = dict(f, c3=3 * info.embed_dim, scale=scale, norm_in=float(norms[l]), norm_out=float(norms[l + 1]),
                  ent=float(ent[l]), ent_max=math.log(info.num_tokens), self_att=self_att,
                  gelu=float(a.gelu_near_zero[l]) if len(a.gelu_near_zero) > l else float("nan"))
    keys = ["blk_in", "blk_ln1", "blk_qkv", "blk_split", "blk_scores", "blk_softmax", "blk_av", "blk_merge",
            "blk_proj", "blk_res1", "blk_ln2", "blk_fc1", "blk_gelu", "blk_fc2", "blk_res2"]
    rows = [f"| {i + 1}. {tr(k, lang, **values)} |" for i, k in enumerate(keys)]
    head = tr("sub_block", lang) + "\n\n" + tr("expl_block", lang, layer=l + 1, depth=info.depth)
    return head + "\n\n" + tr("block_head", lang) + "\n" + "\n".join(rows)


def block_stats_image(a: Analysis, layer: int, lang: str = "en") -> np.ndarray:
    """Token norm, attention entropy and near-zero GELU share through the depth."""
    L = a.info.depth
    norms, ent = depth_measurements(a)
    x = np.arange(1, L + 1)
    lang = R.figure_lang(lang)
    block = tr("fig_block", lang)
    return R.line_panels_image([
        R.LinePanel(np.arange(0, L + 1), norms, tr("fig_mean_token_norm", lang), tr("fig_after_block_input", lang),
                    (59, 82, 139)),
        R.LinePanel(x, ent, tr("fig_entropy", lang), block, (33, 145, 140), reference=math.log(a.info.num_tokens)),
        R.LinePanel(x, a.gelu_near_zero[:L] * 100, tr("fig_gelu_zero", lang), block, (230, 85, 13)),
    ], highlight=layer + 1)
