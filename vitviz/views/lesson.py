"""Lesson mode: the ViT story one step per screen, every number from the loaded model and image.

`lesson_steps(a, model, lang)` → 14 `LessonStep`s (13 for a model without a head: no logit
lens), in the order of the forward pass: patch convolution, flatten, prefix tokens, position
embedding, LayerNorm, qkv, one attention row, attention · v and proj, MLP, residual adds,
the prediction, why it works, the logit lens and rollout. Shapes come from the model's own
modules (the patch convolution is run on the analysed input; kernel, stride, widths, the
attention scale and the dropout rates are read off the modules), measurements from the
analysis (`Analysis`, `query_computation`). Each step has a title, a short body (a small
Markdown subset: **bold**, `code`), one figure and alt text that says what the figure shows
for this model and image. The app's lesson section (`vitviz.ui.sections.lesson`) and the
printed handout (`vitviz.views.handout`) show the same steps.

Figures are drawn for a projector: large type, one idea each. Shapes and module names in
them are language-neutral; every other word is drawn in the lesson's language when a CJK
font is installed (`render.figure_lang`).
"""
from __future__ import annotations

import html
import math
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np
import torch
from PIL import Image

from vitviz import render as R
from vitviz.analysis.analyze import Analysis
from vitviz.analysis.neuron import AnalysisCache, attention_scale, depth_measurements, query_computation
from vitviz.core.model import LoadedModel
from vitviz.views.common import default_patch, fmt
from vitviz.views.explorer import image_data_url
from vitviz.views.lesson_text import lt
from vitviz.views.position import position_all_image
from vitviz.views.rollout import rollout_image

STEP_KEYS = ("patch_conv", "flatten", "prefix", "position", "layernorm", "qkv", "attention_row",
             "attention_out", "mlp", "residual", "head", "why", "logit_lens", "rollout")
MAX_WORDS = 80  # per English body: readable from the back of the room
TOP = 5
KEYS_SHOWN = 8  # keys in the attention-row figure
FIGURES = AnalysisCache(96)  # per analysis and model: each step's figure (per language where it has words)
STEPS = AnalysisCache(8)  # per analysis, model and language: the whole list
Q_COLOUR, K_COLOUR, V_COLOUR = (59, 82, 139), (33, 145, 140), (230, 85, 13)
TOKEN_COLOUR, HIDDEN_COLOUR, OFF_COLOUR = (150, 150, 150), (117, 107, 177), (45, 45, 45)
CLASS_COLOURS = ((59, 82, 139), (230, 85, 13), (33, 145, 140), (188, 80, 144), (200, 160, 20))


@dataclass(frozen=True, eq=False)
class LessonStep:
    """One screen of the lesson."""

    key: str  # one of STEP_KEYS
    title: str
    body: str  # ≤ MAX_WORDS words in English; **bold** and `code` only
    figure: np.ndarray | None  # (H, W, 3) uint8
    alt: str  # what the figure shows, for this model and image
    animation: str | None = None  # "patches_to_sequence", "prefix_prepend" or "attention_row"
    data: Mapping[str, Any] = field(default_factory=dict)  # the numbers an animation draws (arrays: images)


def lesson_steps(a: Analysis, model: LoadedModel, lang: str = "en") -> list[LessonStep]:
    """The lesson for analysis `a` of `model` (the model that produced it) in `lang` ("en" or "zh")."""
    return STEPS.get(a, f"{id(model.model)}:{lang}", lambda: _build(_Ctx(a, model, lang)))


def word_count(text: str) -> int:
    """Words of a body as read (Markdown marks dropped)."""
    return len(re.sub(r"[*`]", "", text).split())


def body_html(text: str) -> str:
    """The body's Markdown subset as HTML: escaped, then **bold**, `code`, paragraphs at blank lines."""
    out = html.escape(text, quote=False)
    out = re.sub(r"`([^`]+)`", r"<code>\1</code>", out)
    out = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", out)
    return "".join(f"<p>{p.strip()}</p>" for p in out.split("\n\n") if p.strip())


def figure_url(figure: np.ndarray, max_side: int = 1000) -> str:
    """A step's figure as a PNG data URL, scaled down to at most `max_side` px (screens show it smaller)."""
    h, w = figure.shape[:2]
    if max(h, w) > max_side:
        figure = _fit(figure, max_side)
    return image_data_url(figure)


# --------------------------------------------------------------------------- the numbers
@dataclass(frozen=True)
class _Ctx:
    a: Analysis
    loaded: LoadedModel
    lang: str

    @property
    def model(self) -> torch.nn.Module:
        return self.loaded.model

    @property
    def f(self) -> dict:
        info = self.a.info
        return dict(fmt(info), c3=3 * info.embed_dim, k5=min(TOP, len(self.a.predictions)))

    @property
    def patch(self) -> tuple[int, int]:
        return default_patch(self.a.info)

    def label(self, token: int) -> str:
        """A token's name in the lesson's language: CLS, REG1, … or patch (row, col)."""
        pos = self.a.grid.token_position(token)
        return self.a.info.prefix_names[token] if pos is None else lt("patch_label", self.lang, row=pos[0], col=pos[1])

    def figure(self, name: str, draw: Callable[[], np.ndarray | None], words: bool = False) -> np.ndarray | None:
        """A figure cached per analysis and model (and language when it has words)."""
        key = f"{id(self.model)}:{name}:{self.lang if words else ''}"
        return FIGURES.get(self.a, key, draw)


def _build(ctx: _Ctx) -> list[LessonStep]:
    makers = (_patch_conv, _flatten, _prefix, _position, _layernorm, _qkv, _attention_row, _attention_out,
              _mlp, _residual, _head, _why, _logit_lens, _rollout)
    steps = [step for make in makers if (step := make(ctx)) is not None]
    return steps


def _step(ctx: _Ctx, key: str, body: str, figure, alt: str, title_key: str | None = None, **kw) -> LessonStep:
    return LessonStep(key=key, title=lt(title_key or f"t_{key}", ctx.lang), body=body, figure=figure, alt=alt, **kw)


@torch.no_grad()
def patch_conv_output(loaded: LoadedModel, a: Analysis) -> np.ndarray:
    """The model's patch convolution run on the analysed input → (gh, gw, C) float32."""
    proj = loaded.model.patch_embed.proj
    out = proj(torch.from_numpy(np.ascontiguousarray(a.input))[None].float())[0]  # C, gh, gw
    return out.permute(1, 2, 0).numpy()


def _rates(values) -> str:
    values = sorted({round(float(v), 4) for v in values}) or [0.0]
    return f"{values[0]:g}" if len(values) == 1 else f"{values[0]:g}–{values[-1]:g}"


def dropout_rates(model: torch.nn.Module) -> tuple[str, str]:
    """(Dropout p, DropPath p) as built into the model's modules, e.g. ("0", "0–0.1")."""
    drops = [m.p for m in model.modules() if isinstance(m, torch.nn.Dropout)]
    paths = [getattr(m, "drop_prob", 0.0) for m in model.modules() if type(m).__name__ == "DropPath"]
    return _rates(drops), _rates(paths)


# --------------------------------------------------------------------------- 1-4: into tokens
def _patch_conv(ctx: _Ctx) -> LessonStep:
    a, f, proj = ctx.a, ctx.f, ctx.model.patch_embed.proj
    (kh, kw), (sh, sw) = tuple(proj.kernel_size), tuple(proj.stride)
    conv = patch_conv_output(ctx.loaded, a)
    gh, gw, c = conv.shape  # the real output, not the info's promise
    f.update(gh=gh, gw=gw, c=c)
    overlap = lt("conv_equal" if (kh, kw) == (sh, sw) else "conv_overlap", ctx.lang)
    body = lt("b_patch_conv", ctx.lang, kh=kh, kw=kw, sh=sh, overlap=overlap, **f)
    fig = ctx.figure("patch_conv", lambda: conv_figure(a, conv, (kh, kw), (sh, sw)))
    return _step(ctx, "patch_conv", body, fig, lt("a_patch_conv", ctx.lang, **f))


def _flatten(ctx: _Ctx) -> LessonStep:
    a, f = ctx.a, ctx.f
    fig = ctx.figure("flatten", lambda: caption(R.patch_sequence_strip(a.image, a.grid, (), tile=26),
                                                f"({f['gh']}, {f['gw']}, {f['c']}) → ({f['p']}, {f['c']})"))
    data = dict(image=a.image, grid=list(a.info.grid), prefix=[], colours=[],
                shape_from=f"({f['gh']}, {f['gw']}, {f['c']})", shape_to=f"({f['p']}, {f['c']})")
    return _step(ctx, "flatten", lt("b_flatten", ctx.lang, **f), fig,
                 lt("a_flatten", ctx.lang, per=f["gw"] + 6, **f), animation="patches_to_sequence", data=data)


def _prefix_colour(name: str) -> tuple[int, int, int]:
    return R.PREFIX_COLOURS.get("REG" if name.startswith("REG") else name, (120, 120, 120))


def _prefix(ctx: _Ctx) -> LessonStep:
    a, f, lang, info = ctx.a, ctx.f, ctx.lang, ctx.a.info
    names = info.prefix_names
    regs = [n for n in names if n.startswith("REG")]
    parts = []
    if "CLS" in names:
        parts.append(lt("b_prefix_cls", lang))
    if "DIST" in names:
        parts.append(lt("b_prefix_dist", lang))
    if regs:
        shown = ", ".join(regs) if len(regs) <= 2 else f"{regs[0]}–{regs[-1]}"
        parts.append(lt("b_prefix_reg", lang, r=len(regs), regs=shown))
    if names:
        parts.append(lt("b_prefix_shape", lang, **f))
        parts.append(lt("b_prefix_read_cls" if info.readout == "cls" else "b_prefix_read_avg", lang))
        alt = lt("a_prefix", lang, **f)
    else:
        parts.append(lt("b_prefix_none", lang, **f))
        alt = lt("a_prefix_none", lang, **f)
    sep = "" if lang == "zh" else " "
    shape = f"({f['p']}, {f['c']}) → ({f['n']}, {f['c']})" if names else f"({f['p']}, {f['c']})"
    fig = ctx.figure("prefix", lambda: caption(R.patch_sequence_strip(a.image, a.grid, names, tile=26), shape))
    data = dict(image=a.image, grid=list(info.grid), prefix=list(names),
                colours=["#%02x%02x%02x" % _prefix_colour(n) for n in names],
                shape_from=f"({f['p']}, {f['c']})", shape_to=f"({f['n']}, {f['c']})")
    return _step(ctx, "prefix", sep.join(parts), fig, alt, animation="prefix_prepend" if names else None,
                 data=data if names else {})


def _cos(x: float | None) -> float | None:
    return None if x is None else round(x, 2) + 0.0  # no "-0.00"


def _position(ctx: _Ctx) -> LessonStep:
    a, f, lang, info = ctx.a, ctx.f, ctx.lang, ctx.a.info
    loc = a.pos_locality
    measured = ""
    if loc.far_cos is not None:
        measured = lt(f"pos_{loc.pattern}", lang, near=_cos(loc.neighbour_cos), far=loc.far, farv=_cos(loc.far_cos),
                      ring=_cos(loc.same_ring_far_cos))
    npos = f["n"] if info.pos_embed_on_prefix else f["p"]
    only = "" if info.pos_embed_on_prefix or not info.num_prefix_tokens else lt("pos_patches_only", lang)
    body = lt("b_position", lang, npos=npos, only=only, measured=measured, **f).strip()
    fig = ctx.figure("position", lambda: position_all_image(a, lang), words=True)
    return _step(ctx, "position", body, fig, lt("a_position", lang, **f))


# --------------------------------------------------------------------------- 5-10: one block
@torch.no_grad()
def _layernorm(ctx: _Ctx) -> LessonStep:
    a, f, lang = ctx.a, ctx.f, ctx.lang
    norm = ctx.model.blocks[0].norm1
    token = a.grid.token_index(*ctx.patch)
    x = np.asarray(a.tokens[0, token], dtype=np.float32)
    y = norm(torch.from_numpy(x)[None])[0].numpy()
    nums = dict(m0=float(x.mean()), s0=float(x.std()), m1=float(y.mean()), s1=float(y.std()),
                patch=ctx.label(token))
    body = lt("b_layernorm", lang, eps=float(getattr(norm, "eps", 0.0)), **nums, **f)
    fig = ctx.figure("layernorm", lambda: histogram_figure(x, y, lang, f["c"]), words=True)
    return _step(ctx, "layernorm", body, fig, lt("a_layernorm", lang, **nums, **f))


def _qkv(ctx: _Ctx) -> LessonStep:
    f, lang = ctx.f, ctx.lang
    attn = ctx.model.blocks[0].attn
    heads, d = int(attn.num_heads), int(attn.head_dim)
    c, c3 = int(attn.qkv.in_features), int(attn.qkv.out_features)
    split = f"(3, 1, {heads}, {f['n']}, {d})"
    vals = dict(f, heads=heads, d=d, c=c, c3=c3, split=split)
    fig = ctx.figure("qkv", lambda: qkv_figure(f["n"], c, c3, heads, d))
    return _step(ctx, "qkv", lt("b_qkv", lang, **vals), fig, lt("a_qkv", lang, **vals))


def _attention_row_numbers(ctx: _Ctx) -> dict:
    """The attention row the lesson shows: the centre patch's query in the last block, head 1
    (the neuron view's numbers, `query_computation`), as a dict of plain values."""
    a = ctx.a
    layer, head, token = a.info.depth - 1, 0, a.grid.token_index(*ctx.patch)
    comp = query_computation(ctx.model, a, layer, head, token)
    probs, scores = comp.probs.astype(np.float64), comp.scores.astype(np.float64)
    order = np.argsort(-probs, kind="stable")[:min(KEYS_SHOWN, len(probs))]
    rest = len(probs) - len(order)
    return dict(layer=layer + 1, head=head + 1, query=ctx.label(token), n=len(probs), d=comp.head_dim,
                scale=comp.scale, top=ctx.label(int(order[0])), top_p=float(probs[order[0]]),
                labels=[ctx.label(int(i)) for i in order], scores=[float(scores[i]) for i in order],
                probs=[float(probs[i]) for i in order], rest=rest, rest_p=float(max(0.0, 1 - probs[order].sum())),
                rest_label=lt("fig_others", ctx.lang, rest=rest) if rest else "")


def _attention_row(ctx: _Ctx) -> LessonStep:
    lang = ctx.lang
    nums = _attention_row_numbers(ctx)
    body = lt("b_attention_row", lang, **nums)
    alt = lt("a_attention_row", lang, k=len(nums["labels"]), **nums)
    fig = ctx.figure("attention_row", lambda: attention_row_figure(nums, lang), words=True)
    data = {k: nums[k] for k in ("labels", "scores", "probs", "rest", "rest_p", "rest_label", "n", "scale", "query")}
    data["weight_label"] = lt("fig_weight", lang)
    return _step(ctx, "attention_row", body, fig, alt, animation="attention_row", data=data)


def _attention_out(ctx: _Ctx) -> LessonStep:
    f, lang = ctx.f, ctx.lang
    attn = ctx.model.blocks[0].attn
    heads, d = int(attn.num_heads), int(attn.head_dim)
    vals = dict(f, heads=heads, d=d, c=int(attn.proj.out_features))
    fig = ctx.figure("attention_out", lambda: attention_out_figure(f["n"], vals["c"], heads, d, lang), words=True)
    return _step(ctx, "attention_out", lt("b_attention_out", lang, **vals), fig, lt("a_attention_out", lang, **vals))


def _mlp(ctx: _Ctx) -> LessonStep:
    a, f, lang = ctx.a, ctx.f, ctx.lang
    mlp = ctx.model.blocks[0].mlp
    fc1 = getattr(mlp, "fc1", None) or getattr(mlp, "fc1_x")
    act = type(getattr(mlp, "act", None)).__name__ if getattr(mlp, "act", None) is not None else "GELU"
    gelu = float(a.gelu_near_zero[0]) if len(a.gelu_near_zero) else 0.0
    vals = dict(f, c=int(fc1.in_features), hidden=int(fc1.out_features), act=act, gelu=gelu)
    fig = ctx.figure("mlp", lambda: mlp_figure(f["n"], vals["c"], vals["hidden"], act, gelu))
    return _step(ctx, "mlp", lt("b_mlp", lang, **vals), fig, lt("a_mlp", lang, **vals))


def _residual(ctx: _Ctx) -> LessonStep:
    a, f, lang = ctx.a, ctx.f, ctx.lang
    drop, droppath = dropout_rates(ctx.model)
    norms, _ = depth_measurements(a)
    body = lt("b_residual", lang, drop=drop, droppath=droppath, **f)
    fig = ctx.figure("residual", lambda: norm_figure(np.asarray(norms), lang), words=True)
    alt = lt("a_residual", lang, n0=float(norms[0]), nl=float(norms[-1]), **f)
    return _step(ctx, "residual", body, fig, alt)


# --------------------------------------------------------------------------- 11-14: the answer
def _readout(ctx: _Ctx) -> str:
    return lt("readout_cls" if ctx.a.info.readout == "cls" else "readout_avg", ctx.lang)


def pct(p: float) -> str:
    """A probability as a percentage, "<0.1%" rather than a misleading "0.0%"."""
    return "<0.1%" if 0 < p < 0.0005 else f"{p:.1%}"


def _short(name: str, width: int = 18) -> str:
    name = name.split(",")[0].strip()
    return name if len(name) <= width else name[: width - 1] + "…"


def _head(ctx: _Ctx) -> LessonStep:
    a, f, lang, info = ctx.a, ctx.f, ctx.lang, ctx.a.info
    if not a.predictions:
        vals = dict(f, readout=_readout(ctx))
        fig = ctx.figure("head", lambda: no_head_figure(f["n"], f["c"], info.readout, lang), words=True)
        return _step(ctx, "head", lt("b_head_none", lang, **vals), fig, lt("a_head_none", lang, **vals))
    what = lt("head_cls" if info.readout == "cls" else "head_avg", lang, **f)
    dist = lt("head_dist", lang) if "DIST" in info.prefix_names else ""
    preds = a.predictions[:TOP]
    sep = "、" if lang == "zh" else ", "
    rest = sep.join(f"{_short(p.name)} {pct(p.probability)}" for p in preds[1:])
    rest = lt("head_rest", lang, items=rest) if rest else ""
    body = lt("b_head", lang, readout_what=what, dist=dist, top1=_short(preds[0].name), p1=pct(preds[0].probability),
              rest=rest, **f)
    items = sep.join(f"{_short(p.name)} {pct(p.probability)}" for p in preds)
    fig = ctx.figure("head", lambda: top_classes_figure([(_short(p.name), p.probability) for p in preds], lang),
                     words=True)
    return _step(ctx, "head", body, fig, lt("a_head", lang, items=items, **f))


def _why(ctx: _Ctx) -> LessonStep:
    a, f, lang = ctx.a, ctx.f, ctx.lang
    body = lt("b_why", lang, pattern=lt(f"why_{a.pos_locality.pattern}", lang))
    dist = a.attention_distance
    alt = lt("a_why", lang, lo=float(dist.min()), hi=float(dist.max()), **f)
    fig = ctx.figure("why", lambda: distance_figure(dist, a.info.patch_size[0], lang), words=True)
    return _step(ctx, "why", body, fig, alt)


def _logit_lens(ctx: _Ctx) -> LessonStep | None:
    a, f, lang = ctx.a, ctx.f, ctx.lang
    lens = a.logit_lens
    if lens is None:
        return None
    p = lens.probabilities
    block = lens.first_lead
    name = _short(a.class_names[lens.final_class] if lens.final_class < len(a.class_names) else str(lens.final_class))
    lead = lt("lens_lead_first" if block == 1 else "lens_lead", lang, block=block, depth=f["depth"])
    readout = _readout(ctx)
    body = lt("b_lens", lang, readout=readout, name=name, lead=lead, p_then=float(p[block - 1, lens.final_class]),
              p_end=float(p[-1, lens.final_class]), **f)
    fig = ctx.figure("logit_lens", lambda: lens_figure(a))
    return _step(ctx, "logit_lens", body, fig, lt("a_lens", lang, name=name, block=block, **f), title_key="t_lens")


def _rollout(ctx: _Ctx) -> LessonStep:
    a, f, lang = ctx.a, ctx.f, ctx.lang
    m = np.asarray(a.rollout, dtype=np.float64)
    r, c = divmod(int(np.argmax(m)), m.shape[1])
    flat = np.sort(m.ravel())[::-1]
    share = float(flat[: max(1, math.ceil(flat.size / 10))].sum() / max(flat.sum(), 1e-12))
    patch = lt("patch_label", lang, row=r, col=c)
    fused = lt(f"fused_{a.fusion}", lang)
    body = lt("b_rollout", lang, fused=fused, readout=_readout(ctx), patch=patch, share=share, **f)
    fig = ctx.figure("rollout", lambda: rollout_image(a, lang=lang), words=True)
    return _step(ctx, "rollout", body, fig, lt("a_rollout", lang, readout=_readout(ctx), patch=patch))


# --------------------------------------------------------------------------- figures
CAPTION = 30  # px: shapes written on figures
LABEL = 24


def _text_width(text: str, size: int) -> int:
    return R.text_mask(text, size, "la", False, True)[0].width


def caption(image: np.ndarray, text: str, size: int = CAPTION) -> np.ndarray:
    """The image with `text` written large above it (centred)."""
    h, w = image.shape[:2]
    band = int(size * 1.9)
    width = max(w, _text_width(text, size) + 24)
    c = R.Canvas(width, h + band, ss=2)
    c.text(width / 2, band / 2, text, size=size, anchor="mm")
    c.put((width - w) // 2, band, image)
    return c.rgb()


def _fit(image: np.ndarray, side: int, nearest: bool = False) -> np.ndarray:
    """`image` scaled to fit a side × side box (aspect kept)."""
    h, w = image.shape[:2]
    s = side / max(h, w)
    size = (max(1, round(w * s)), max(1, round(h * s)))
    return np.asarray(Image.fromarray(image).resize(size, Image.NEAREST if nearest else Image.LANCZOS))


def pca_colours(features: np.ndarray) -> np.ndarray:
    """(gh, gw, C) features → (gh, gw, 3) uint8: the first three principal components as RGB."""
    gh, gw, c = features.shape
    x = features.reshape(-1, c).astype(np.float64)
    x -= x.mean(0)
    if not np.any(x):
        return np.zeros((gh, gw, 3), np.uint8)
    _, _, vt = np.linalg.svd(x, full_matrices=False)
    comps = x @ vt[:3].T
    if comps.shape[1] < 3:
        comps = np.pad(comps, ((0, 0), (0, 3 - comps.shape[1])))
    lo, hi = np.percentile(comps, 2, axis=0), np.percentile(comps, 98, axis=0)
    rgb = np.clip((comps - lo) / np.where(hi - lo > 1e-12, hi - lo, 1), 0, 1)
    return np.round(rgb * 255).astype(np.uint8).reshape(gh, gw, 3)


def _arrow(c: R.Canvas, x0: float, y0: float, x1: float, y1: float, width: float = 4, colour=(60, 60, 60)) -> None:
    c.line([(x0, y0), (x1, y1)], colour, width)
    ang = math.atan2(y1 - y0, x1 - x0)
    head = 16
    pts = [(x1 + 2 * math.cos(ang), y1 + 2 * math.sin(ang)),
           (x1 - head * math.cos(ang - 0.45), y1 - head * math.sin(ang - 0.45)),
           (x1 - head * math.cos(ang + 0.45), y1 - head * math.sin(ang + 0.45))]
    c.polygon(pts, colour)


def conv_figure(a: Analysis, conv: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int],
                side: int = 290) -> np.ndarray:
    """Input with its patch grid → arrow "conv k×k, stride s" → the output grid, coloured by PCA."""
    gh, gw, c = conv.shape
    h, w = a.image.shape[:2]
    left = _fit(R.draw_patch_grid(a.image, a.grid), side)
    right = _fit(R.enlarge(pca_colours(conv), max(1, side // max(gh, gw))), side, nearest=True).copy()
    for r in range(1, gh):  # cell borders, so the grid reads as cells
        right[round(r * right.shape[0] / gh)] = 255
    for col in range(1, gw):
        right[:, round(col * right.shape[1] / gw)] = 255
    gap, top, margin = 190, 70, 24
    W, H = margin * 2 + left.shape[1] + gap + right.shape[1], top + max(left.shape[0], right.shape[0]) + 20
    cv = R.Canvas(W, H, ss=2)
    xl, xr = margin, margin + left.shape[1] + gap
    cv.text(xl + left.shape[1] / 2, top / 2, f"({h}, {w}, 3)", size=CAPTION, anchor="mm")
    cv.text(xr + right.shape[1] / 2, top / 2, f"({gh}, {gw}, {c})", size=CAPTION, anchor="mm")
    ym = top + left.shape[0] / 2
    _arrow(cv, xl + left.shape[1] + 22, ym, xr - 22, ym)
    mid = xl + left.shape[1] + gap / 2
    cv.text(mid, ym - 34, f"conv {kernel[0]}×{kernel[1]}", size=LABEL, anchor="mm")
    cv.text(mid, ym + 34, f"stride {stride[0]}", size=LABEL, anchor="mm")
    cv.put(xl, top, left)
    cv.put(xr, top, right)
    return cv.rgb()


@dataclass(frozen=True)
class FlowRow:
    """One tensor in a shape diagram: its shape, drawn as a bar of parts (width ∝ numbers per token)."""

    shape: str
    parts: tuple[tuple[float, tuple[int, int, int]], ...]  # (width in numbers, colour)
    breaks: frozenset = frozenset()  # part indices drawn with a wide gap before them
    groups: tuple[tuple[str, int, int], ...] = ()  # (caption, first part, last part) written above


def flow_figure(rows: list[FlowRow], ops: list[str], bar: int = 400, width: int = 780) -> np.ndarray:
    """A vertical shape diagram: each row a tensor (bar + shape), an arrow with the operation between rows."""
    small, wide, bar_h, cap_h, step = 2, 14, 46, 32, 74
    def gaps(row: FlowRow) -> float:
        return sum(wide if i in row.breaks else small for i in range(1, len(row.parts)))
    unit = min((bar - gaps(r)) / sum(p[0] for p in r.parts) for r in rows)
    x0, y = 40, 24
    ends = [x0 + gaps(r) + unit * sum(p[0] for p in r.parts) + 18 + _text_width(r.shape, LABEL + 2) + 16 for r in rows]
    ends += [x0 + 52 + _text_width(op, LABEL - 2) + 16 for op in ops]
    width = int(max(width, *ends))
    height = 24 + sum(bar_h + (cap_h if r.groups else 0) for r in rows) + step * (len(rows) - 1) + 20
    cv = R.Canvas(width, height, ss=2)
    for i, row in enumerate(rows):
        if i:
            _arrow(cv, x0 + 24, y - step + 6, x0 + 24, y - 8, width=3)
            cv.text(x0 + 52, y - step / 2, ops[i - 1], size=LABEL - 2, anchor="lm")
        y += cap_h if row.groups else 0
        x, spans = x0, []
        for j, (n, colour) in enumerate(row.parts):
            if j:
                x += wide if j in row.breaks else small
            cv.rect(x, y, x + n * unit, y + bar_h, colour)
            spans.append((x, x + n * unit))
            x += n * unit
        for text, first, last in row.groups:
            cv.text((spans[first][0] + spans[last][1]) / 2, y - cap_h / 2, text, size=LABEL - 2, anchor="mm")
        cv.text(x + 18, y + bar_h / 2, row.shape, size=LABEL + 2, anchor="lm")
        y += bar_h + step
    return cv.rgb()


def _shade(colour, k: int, n: int) -> tuple[int, int, int]:
    """Alternating lighter / darker shades of `colour`, so neighbouring heads can be told apart."""
    t = 0.0 if n <= 1 else (0.28 if k % 2 else 0.0)
    return tuple(int(round(v + (255 - v) * t)) for v in colour)


def _heads(colour, heads: int, d: int) -> tuple[tuple[float, tuple[int, int, int]], ...]:
    return tuple((d, _shade(colour, h, heads)) for h in range(heads))


def qkv_figure(n: int, c: int, c3: int, heads: int, d: int) -> np.ndarray:
    split = _heads(Q_COLOUR, heads, d) + _heads(K_COLOUR, heads, d) + _heads(V_COLOUR, heads, d)
    rows = [FlowRow(f"({n}, {c})", ((c, TOKEN_COLOUR),)),
            FlowRow(f"({n}, {c3})", ((c, Q_COLOUR), (c3 - 2 * c, K_COLOUR), (c, V_COLOUR)),
                    groups=(("q", 0, 0), ("k", 1, 1), ("v", 2, 2))),
            FlowRow(f"(3, 1, {heads}, {n}, {d})", split, breaks=frozenset({heads, 2 * heads}),
                    groups=((f"q: {heads} × {d}", 0, heads - 1), (f"k: {heads} × {d}", heads, 2 * heads - 1),
                            (f"v: {heads} × {d}", 2 * heads, 3 * heads - 1)))]
    return flow_figure(rows, [f"qkv: Linear {c} → {c3}", "reshape + permute"])


def attention_out_figure(n: int, c: int, heads: int, d: int, lang: str = "en") -> np.ndarray:
    lang = R.figure_lang(lang)
    per_head = _heads(V_COLOUR, heads, d)
    rows = [FlowRow(f"v (1, {heads}, {n}, {d})", per_head, breaks=frozenset(range(1, heads))),
            FlowRow(f"(1, {heads}, {n}, {d})", _heads(HIDDEN_COLOUR, heads, d), breaks=frozenset(range(1, heads))),
            FlowRow(f"({n}, {c})", _heads(HIDDEN_COLOUR, heads, d)),
            FlowRow(f"({n}, {c})", ((c, Q_COLOUR),))]
    return flow_figure(rows, [f"attention ({n} × {n}) · v", lt("fig_merge_heads", lang, heads=heads, d=d, c=c),
                              f"proj: Linear {c} → {c}"])


def mlp_figure(n: int, c: int, hidden: int, act: str, off: float) -> np.ndarray:
    off = float(np.clip(off, 0, 1))
    rows = [FlowRow(f"({n}, {c})", ((c, TOKEN_COLOUR),)),
            FlowRow(f"({n}, {hidden})", ((hidden, HIDDEN_COLOUR),)),
            FlowRow(f"({n}, {hidden})", ((hidden * (1 - off), HIDDEN_COLOUR), (hidden * off, OFF_COLOUR))),
            FlowRow(f"({n}, {c})", ((c, TOKEN_COLOUR),))]
    return flow_figure(rows, [f"fc1: Linear {c} → {hidden}", f"{act}  ({off:.0%} ≈ 0)", f"fc2: Linear {hidden} → {c}"])


def no_head_figure(n: int, c: int, readout: str, lang: str = "en") -> np.ndarray:
    lang = R.figure_lang(lang)
    rows = [FlowRow(f"({n}, {c})", ((c, TOKEN_COLOUR),)), FlowRow(f"({n}, {c})", ((c, TOKEN_COLOUR),)),
            FlowRow(f"({c},)", ((c, Q_COLOUR),))]
    pick = lt("readout_cls" if readout == "cls" else "readout_avg", lang)
    return flow_figure(rows, [lt("fig_final_norm", lang), lt("fig_no_head_out", lang, pick=pick)])


def _mpl_style(ax, size: int = 18) -> None:
    ax.tick_params(labelsize=size - 2)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def histogram_figure(x: np.ndarray, y: np.ndarray, lang: str, c: int) -> np.ndarray:
    """Histograms of one token's numbers before and after LayerNorm, with mean and std written on."""
    lang = R.figure_lang(lang)
    fig = R.new_figure(7.6, 4.6)
    axes = fig.subplots(1, 2)
    for ax, values, key, colour in ((axes[0], x, "fig_before", "#3b528b"), (axes[1], y, "fig_after", "#e6550d")):
        ax.hist(values, bins=40, color=colour)
        ax.set_title(lt(key, lang), fontsize=20)
        ax.text(0.03, 0.95, lt("fig_mean_std", lang, mean=values.mean(), std=values.std()), transform=ax.transAxes,
                fontsize=18, va="top")
        _mpl_style(ax)
    axes[0].set_ylabel(lt("fig_count", lang, c=c), fontsize=16)
    return R.figure_rgb(fig)


def attention_row_figure(nums: Mapping, lang: str) -> np.ndarray:
    """The strongest keys of one attention row: their scores (left) and softmax weights (right)."""
    lang = R.figure_lang(lang)
    labels, scores, probs = list(nums["labels"]), np.asarray(nums["scores"]), np.asarray(nums["probs"])
    fig = R.new_figure(7.8, 5.2)
    left, right = fig.subplots(1, 2, sharey=True)
    ys = np.arange(len(labels))
    left.barh(ys, scores, color=["#3b528b" if s >= 0 else "#9e9ac8" for s in scores])
    left.axvline(0, color="#444", lw=1)
    left.set_yticks(ys, labels, fontsize=16)
    left.invert_yaxis()
    left.set_title(f"q·k × {nums['scale']:.4g}", fontsize=20)
    right.barh(ys, probs, color="#e6550d")
    for yy, p in zip(ys, probs):
        right.text(p, yy, f" {p:.1%}", va="center", fontsize=16)
    right.set_xlim(0, max(float(probs.max()) * 1.45, 0.05))
    right.set_title("softmax", fontsize=20)
    if nums["rest"]:
        right.set_xlabel(f"{nums['rest_label']}: {nums['rest_p']:.1%}", fontsize=16)
    for ax in (left, right):
        _mpl_style(ax)
    return R.figure_rgb(fig)


def norm_figure(norms: np.ndarray, lang: str) -> np.ndarray:
    lang = R.figure_lang(lang)
    fig = R.new_figure(7.4, 4.6)
    ax = fig.add_subplot(1, 1, 1)
    xs = np.arange(len(norms))
    ax.plot(xs, norms, marker="o", ms=9, lw=3, color="#3b528b")
    ax.set_xticks(xs if len(xs) <= 13 else xs[:: max(1, len(xs) // 12)])
    ax.set_xlabel(lt("fig_after_block", lang), fontsize=18)
    ax.set_ylabel(lt("fig_mean_norm", lang), fontsize=18)
    ax.set_ylim(0, float(norms.max()) * 1.12 + 1e-6)
    ax.grid(alpha=0.3)
    _mpl_style(ax)
    return R.figure_rgb(fig)


def top_classes_figure(items: list[tuple[str, float]], lang: str) -> np.ndarray:
    lang = R.figure_lang(lang)
    fig = R.new_figure(7.4, 0.9 + 0.85 * len(items))
    ax = fig.add_subplot(1, 1, 1)
    ys = np.arange(len(items))
    probs = [p for _, p in items]
    ax.barh(ys, probs, color=["#e6550d"] + ["#3b528b"] * (len(items) - 1))
    ax.set_yticks(ys, [name for name, _ in items], fontsize=20)
    ax.invert_yaxis()
    for yy, p in zip(ys, probs):
        ax.text(p, yy, f" {pct(p)}", va="center", fontsize=20)
    ax.set_xlim(0, 1.22)
    ax.set_xticks([0, 0.5, 1], ["0", "50%", "100%"])
    ax.set_xlabel(lt("fig_probability", lang), fontsize=18)
    _mpl_style(ax, 20)
    return R.figure_rgb(fig)


def distance_figure(distance: np.ndarray, patch_px: int, lang: str) -> np.ndarray:
    """Each head's mean attention distance per block (ViT fig. 7 right), drawn large."""
    lang = R.figure_lang(lang)
    L, H = distance.shape
    fig = R.new_figure(7.4, 4.6)
    ax = fig.add_subplot(1, 1, 1)
    rng = np.random.default_rng(0)
    for h in range(H):
        xs = np.arange(1, L + 1) + rng.uniform(-0.12, 0.12, L) * (H > 1)
        ax.scatter(xs, distance[:, h], s=70, alpha=0.85)
    ax.axhline(patch_px, color="#888", ls="--", lw=2)
    ax.text(L + 0.4, patch_px, lt("fig_one_patch", lang), va="bottom", ha="right", fontsize=16, color="#555")
    ax.set_xticks(range(1, L + 1) if L <= 12 else range(1, L + 1, max(1, L // 12)))
    ax.set_xlabel(lt("fig_block", lang), fontsize=18)
    ax.set_ylabel(lt("fig_distance", lang), fontsize=18)
    ax.set_ylim(0, max(float(distance.max()) * 1.1, patch_px * 1.5))
    ax.grid(alpha=0.3)
    _mpl_style(ax)
    return R.figure_rgb(fig)


def lens_figure(a: Analysis, width: int = 780) -> np.ndarray | None:
    """The logit lens as a strip per block: the final top 5's probabilities as coloured bar segments
    (the rest grey), the block's own top class written at the right, the lead block marked."""
    lens = a.logit_lens
    if lens is None:
        return None
    p = lens.probabilities
    classes = [pr.index for pr in a.predictions[:TOP]] or [lens.final_class]
    names = [_short(a.class_names[i] if i < len(a.class_names) else str(i), 16) for i in classes]
    L = len(p)
    row = int(np.clip(440 // L, 16, 60))
    font = int(np.clip(row - 12, 12, 26))
    legend_h = 2 * 36 + 14
    cv = R.Canvas(width, legend_h + L * row + 16, ss=2)
    for k, name in enumerate(names):  # legend: colour and name of the final top 5
        x, y = 16 + (k % 3) * 255, 8 + (k // 3) * 36
        cv.rect(x, y + 4, x + 26, y + 30, CLASS_COLOURS[k])
        cv.text(x + 34, y + 17, name, size=24, anchor="lm")
    bar_x, bar_w = 56, 440
    for l in range(L):
        y = legend_h + l * row
        cv.text(bar_x - 12, y + row / 2, f"{l + 1}", size=font, anchor="rm")
        cv.rect(bar_x, y + 2, bar_x + bar_w, y + row - 2, (225, 225, 225))
        x = bar_x
        for k, cls in enumerate(classes):
            w = bar_w * float(p[l, cls])
            cv.rect(x, y + 2, x + w, y + row - 2, CLASS_COLOURS[k])
            x += w
        own = int(np.argmax(p[l]))
        own_name = _short(a.class_names[own] if own < len(a.class_names) else str(own), 16)
        lead = "◀ " if l + 1 == lens.first_lead else ""
        cv.text(bar_x + bar_w + 14, y + row / 2, f"{lead}{own_name} {p[l, own]:.0%}", size=font, anchor="lm")
    return cv.rgb()
