"""Section 7, "Can we trust it?": the explanation mosaic, the faithfulness curves and the
what-if view (these run the model: the explain methods, the curves, one what-if forward)."""
from __future__ import annotations

import numpy as np
import gradio as gr
import torch

import vitviz
from vitviz import CaptureTimeout, ImageError, ModelLoadError
from vitviz.ui import page as P
from vitviz.ui.page import Outputs, Session
from vitviz.views import pictures as V
from vitviz.views.text import tr

EXPLANATIONS = V.AnalysisCache(6)  # per analysis and class: {method: map}, {method: seconds}
FAITHFULNESS_STEPS = 10
TRUST_ERRORS = (ImageError, ModelLoadError, ValueError, CaptureTimeout)
LABELS = {"expl_class_dd": "explain_class", "explain_img": "img_explanations", "faith_img": "img_faith",
          "whatif_img": "img_whatif", "whatif_label": "whatif_label"}
BUTTONS = {"explain_btn": "explain_button", "faith_btn": "faith_button", "whatif_reset_btn": "whatif_reset"}
FIXED = {"faith_mode_md": "expl_faith_mode"}
HEADED = {"faith_md": ("sub_faith", "expl_faith"), "whatif_md": ("sub_whatif", "expl_whatif")}  # title + text


def _no_progress(*args, **kwargs) -> None:
    return None


def explanation_maps(loaded: vitviz.LoadedModel, a: vitviz.Analysis,
                     target: int) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """Every explain method's (gh, gw) map in [0, 1] for class `target` (computed once per analysis and class)."""
    from vitviz.analysis.explain import explain_all

    def compute():
        found = explain_all(loaded, torch.from_numpy(np.asarray(a.input, dtype=np.float32)), target=int(target))
        return {m: e.map for m, e in found.items()}, {m: e.seconds for m, e in found.items()}

    return EXPLANATIONS.get(a, f"explain:{int(target)}", compute)


def faithfulness_curves(loaded: vitviz.LoadedModel, a: vitviz.Analysis, maps: dict[str, np.ndarray], target: int,
                        mode: str, progress=None) -> list:
    """Deletion + insertion curves of every map plus the random baseline (vitviz.analysis.faithfulness.Curve list)."""
    from vitviz.analysis.faithfulness import curves

    maps = dict(maps)
    maps[V.RANDOM_BASELINE] = V.random_map(a)
    return curves(loaded, torch.from_numpy(np.asarray(a.input, dtype=np.float32)), maps, int(target),
                  modes=(mode,), steps=FAITHFULNESS_STEPS, progress=progress)


def what_if_outputs(loaded: vitviz.LoadedModel, a: vitviz.Analysis, selected, keep_mode: str,
                    lang: str = "en") -> tuple[dict[str, float], np.ndarray, str]:
    """One forward of the reduced sequence → (top-5 label, rollout picture, status Markdown).

    keep_mode "drop": the selected patches are removed; "keep": only they stay. Nothing selected:
    the full sequence."""
    from vitviz.analysis.faithfulness import what_if

    sel = sorted({int(i) for i in selected or ()})
    p = a.info.num_patches
    x = np.asarray(a.input, dtype=np.float32)
    if not sel:
        w = what_if(loaded, x, fusion=a.fusion, discard_ratio=a.discard_ratio)
    elif keep_mode == "keep":
        w = what_if(loaded, x, keep_only=sel, fusion=a.fusion, discard_ratio=a.discard_ratio)
    else:
        w = what_if(loaded, x, drop=sel, fusion=a.fusion, discard_ratio=a.discard_ratio)
    kept = int(w.kept.sum())
    text = (tr("whatif_full", lang, p=p) + " " if not sel else "") + tr(
        "whatif_status", lang, kept=kept, p=p, tokens=kept + a.info.num_prefix_tokens, ms=w.seconds * 1000)
    label = V.probabilities_label(a, w.probs) if a.predictions else {}
    return label, V.what_if_image(a, w.rollout, w.kept, sel), text


def _radio(key: str, lang: str, options: dict[str, str]) -> dict:
    """A radio's label and its (text, value) choices in `lang`."""
    return gr.update(label=tr(key, lang), choices=[(tr(k, lang), v) for v, k in options.items()])


FAITH_MODES = {"pixels": "faith_pixels", "tokens": "faith_tokens"}
WHATIF_MODES = {"drop": "whatif_drop", "keep": "whatif_keep"}


def build(page: P.Page) -> dict:
    c: dict = {}
    with P.section("trust"):
        c["g_md"] = gr.Markdown(V.explanations_text(), elem_id="vv-trust-md")
        with gr.Row(equal_height=False):
            with gr.Column(scale=1, min_width=240):
                c["expl_class_dd"] = gr.Dropdown(choices=[], label=tr("explain_class"), elem_id="vv-explain-class")
                c["explain_btn"] = gr.Button(tr("explain_button"), elem_id="vv-explain-btn")
                c["explain_md"] = gr.Markdown("", elem_id="vv-explain-status")
            c["explain_img"] = gr.Image(label=tr("img_explanations"), scale=3, elem_id="vv-explanations",
                                        buttons=["download", "fullscreen"], **P.IMG)
        c["faith_md"] = gr.Markdown(_headed("faith_md", "en"), elem_id="vv-faith-md")
        with gr.Row(equal_height=False):
            with gr.Column(scale=1, min_width=240):
                c["faith_mode_rd"] = gr.Radio([(tr(k), v) for v, k in FAITH_MODES.items()], value="pixels",
                                              label=tr("faith_mode"), elem_id="vv-faith-mode")
                c["faith_mode_md"] = gr.Markdown(tr("expl_faith_mode"))
                c["faith_btn"] = gr.Button(tr("faith_button"), elem_id="vv-faith-btn")
            with gr.Column(scale=3):
                c["faith_img"] = gr.Image(label=tr("img_faith"), elem_id="vv-faith",
                                          buttons=["download", "fullscreen"], **P.IMG)
                c["auc_md"] = gr.Markdown("", elem_id="vv-auc")
        # What the explanations and curves on show were drawn from (they cost model runs), so a language
        # switch re-words them without running anything: (class, maps, seconds) and (class, mode, curves).
        c["explain_drawn"] = gr.State(None)
        c["faith_drawn"] = gr.State(None)
        c["whatif_md"] = gr.Markdown(_headed("whatif_md", "en"), elem_id="vv-whatif-md")
        c["whatif_state"] = gr.State([])
        with gr.Row(equal_height=False):
            c["whatif_img"] = gr.Image(label=tr("img_whatif"), elem_id="vv-whatif", buttons=["fullscreen"], **P.IMG)
            with gr.Column():
                c["whatif_mode_rd"] = gr.Radio([(tr(k), v) for v, k in WHATIF_MODES.items()], value="drop",
                                               label=tr("whatif_mode"), elem_id="vv-whatif-mode")
                c["whatif_reset_btn"] = gr.Button(tr("whatif_reset"), elem_id="vv-whatif-reset")
                c["whatif_status_md"] = gr.Markdown("", elem_id="vv-whatif-status")
                c["whatif_label"] = gr.Label(num_top_classes=5, label=tr("whatif_label"), elem_id="vv-whatif-label")
    return c


def _headed(name: str, lang: str) -> str:
    title, text = HEADED[name]
    return tr(title, lang) + "\n\n" + tr(text, lang)


def texts(s: V.ViewSettings, sess: Session | None) -> Outputs:
    out = P.translated(s.lang, LABELS, BUTTONS, FIXED)
    out.update({name: _headed(name, s.lang) for name in HEADED})
    out.update(g_md=V.explanations_text(s.lang), faith_mode_rd=_radio("faith_mode", s.lang, FAITH_MODES),
               whatif_mode_rd=_radio("whatif_mode", s.lang, WHATIF_MODES))
    return out


def pictures(s: V.ViewSettings, sess: Session) -> Outputs:
    """Cleared for the new image; what-if starts from the full sequence (no extra forward)."""
    a = sess.analysis
    return {"expl_class_dd": gr.update(choices=V.class_choices(a),
                                       value=a.predictions[0].index if a.predictions else None,
                                       label=tr("explain_class", s.lang), interactive=bool(a.predictions)),
            "explain_img": None, "explain_md": "", "faith_img": None, "auc_md": "",
            "explain_drawn": None, "faith_drawn": None,
            "whatif_state": [], "whatif_status_md": "",
            "whatif_img": V.what_if_image(a, a.rollout, np.ones(a.info.grid, dtype=bool)),
            "whatif_label": V.prediction_label(a) or None}


def _target(a: vitviz.Analysis, cls, lang: str = "en") -> int:
    if not a.predictions:
        raise ValueError(tr("no_head", lang, c=a.info.embed_dim))
    return int(cls) if cls is not None else a.predictions[0].index


def _class_name(a: vitviz.Analysis, index: int) -> str:
    return a.class_names[index] if index < len(a.class_names) else str(index)


def explained(a: vitviz.Analysis, target: int, maps: dict[str, np.ndarray], seconds: dict[str, float],
              lang: str) -> Outputs:
    """The explanation mosaic of class `target` and its status line in `lang`, and what they were drawn from."""
    text = tr("explain_done", lang, name=_class_name(a, target), n=len(maps), seconds=sum(seconds.values()))
    return {"explain_img": V.explanations_image(a, maps, seconds, lang), "explain_md": text,
            "explain_drawn": (target, maps, seconds)}


def measured(a: vitviz.Analysis, target: int, mode: str, curves: list, lang: str) -> Outputs:
    """The curves of class `target` and their AUC table in `lang`, and what they were drawn from."""
    return {"faith_img": V.faithfulness_image(curves, lang),
            "auc_md": V.auc_table(curves, _class_name(a, target), mode, lang), "faith_drawn": (target, mode, curves)}


def on_explain(s: V.ViewSettings, sess: Session | None, cls, progress=_no_progress) -> Outputs:
    """Every explain method's map for class `cls` (default: the top class), as one mosaic."""
    if sess is None or sess.analysis is None:
        gr.Warning(tr("status_image", s.lang))
        return {}
    a = sess.analysis
    try:
        target = _target(a, cls, s.lang)
        progress(0.1, desc=tr("explaining", s.lang))
        maps, seconds = explanation_maps(P.model_of(sess), a, target)
    except TRUST_ERRORS as exc:
        gr.Warning(str(exc))
        return {}
    return explained(a, target, maps, seconds, s.lang)


def on_faithfulness(s: V.ViewSettings, sess: Session | None, cls, mode, progress=_no_progress) -> Outputs:
    """Deletion and insertion curves (and their AUC table) of every explanation of class `cls`."""
    if sess is None or sess.analysis is None:
        gr.Warning(tr("status_image", s.lang))
        return {}
    a = sess.analysis
    mode = mode if mode in FAITH_MODES else "pixels"
    try:
        target = _target(a, cls, s.lang)
        loaded = P.model_of(sess)
        progress(0.02, desc=tr("explaining", s.lang))
        maps, seconds = explanation_maps(loaded, a, target)
        desc = tr("faith_running", s.lang)
        found = faithfulness_curves(loaded, a, maps, target, mode,
                                    progress=lambda f: progress(0.1 + 0.9 * float(f), desc=desc))
    except TRUST_ERRORS as exc:
        gr.Warning(str(exc))
        return {}
    return dict(explained(a, target, maps, seconds, s.lang), **measured(a, target, mode, found, s.lang))


def on_lang(s: V.ViewSettings, sess: Session | None, explain_drawn, faith_drawn) -> Outputs:
    """Language switch: the explanations and curves on show (pictures and texts) in the new language,
    from what they were drawn from (`texts` does the rest; nothing runs the model)."""
    if sess is None or sess.analysis is None:
        return {}
    out: Outputs = {}
    if explain_drawn is not None:
        out.update(explained(sess.analysis, *explain_drawn, s.lang))
    if faith_drawn is not None:
        out.update(measured(sess.analysis, *faith_drawn, s.lang))
    return out


def whatif_update(s: V.ViewSettings, sess: Session, selected, keep_mode) -> Outputs:
    try:
        lab, pic, text = what_if_outputs(P.model_of(sess), sess.analysis, selected, keep_mode, s.lang)
    except TRUST_ERRORS as exc:
        gr.Warning(str(exc))
        return {"whatif_state": list(selected)}
    return {"whatif_label": lab or None, "whatif_img": pic, "whatif_status_md": text, "whatif_state": list(selected)}


def on_whatif_select(s: V.ViewSettings, sess: Session | None, index, selected, keep_mode) -> Outputs:
    """A click on the what-if picture selects (or unselects) the patch under it; one forward."""
    if sess is None or sess.analysis is None or index is None:
        return {}
    a = sess.analysis
    row, col = V.patch_at_display_pixel(a, index[0], index[1])
    chosen = set(int(i) for i in (selected or ()))
    chosen.symmetric_difference_update({row * a.info.grid[1] + col})
    return whatif_update(s, sess, sorted(chosen), keep_mode)


def on_whatif_mode(s: V.ViewSettings, sess: Session | None, selected, keep_mode) -> Outputs:
    if sess is None or sess.analysis is None:
        return {}
    return whatif_update(s, sess, selected or [], keep_mode)


def on_whatif_reset(s: V.ViewSettings, sess: Session | None, selected, keep_mode) -> Outputs:
    if sess is None or sess.analysis is None:
        return {"whatif_state": []}
    return whatif_update(s, sess, [], keep_mode)


def wire(page: P.Page, c: dict) -> None:
    page.follow(c, texts, pictures)
    page.listen([c["explain_btn"].click], on_explain, c, extra=(c["expl_class_dd"],), event="progress", **P.PRIVATE)
    page.listen([c["faith_btn"].click], on_faithfulness, c, extra=(c["expl_class_dd"], c["faith_mode_rd"]),
                event="progress", **P.PRIVATE)
    page.listen([page.lang.input], on_lang, c, extra=(c["explain_drawn"], c["faith_drawn"]), **P.REDRAW)
    whatif = (c["whatif_state"], c["whatif_mode_rd"])
    redraw = dict(api_visibility="private", trigger_mode="always_last", show_progress="minimal")
    page.listen([c["whatif_img"].select], on_whatif_select, c, extra=whatif, event="select", **redraw)
    page.listen([c["whatif_mode_rd"].input], on_whatif_mode, c, extra=whatif, **redraw)
    page.listen([c["whatif_reset_btn"].click], on_whatif_reset, c, extra=whatif, **P.PRIVATE)
