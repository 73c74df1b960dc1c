"""Section 7: switch attention heads and patches off and run the model again (ablation), and head
importance (each head alone off, batched, with a progress bar)."""
from __future__ import annotations

import gradio as gr
import torch

import vitviz
from vitviz import CaptureTimeout, ImageError
from vitviz.analysis.ablation import MODES, ablate, head_importance
from vitviz.ui import page as P
from vitviz.ui.page import Outputs, Session
from vitviz.views import ablation as AV
from vitviz.views import pictures as V
from vitviz.views.text import tr

LABELS = {"picker_img": "img_picker", "patch_picker_img": "img_patch_picker", "mode_rd": "ablation_mode",
          "ablated_img": "img_ablated_rollout",
          "ablated_label": "label", "importance_img": "img_importance"}
BUTTONS = {"run_btn": "ablation_run", "clear_btn": "ablation_clear", "importance_btn": "importance_run"}
ERRORS = (ImageError, ValueError, CaptureTimeout)


def mode_choices(lang: str) -> list[tuple[str, str]]:
    return [(tr(f"ablation_mode_{m}", lang), m) for m in MODES]


def build(page: P.Page) -> dict:
    c: dict = {}
    with P.section("ablation"):
        c["abl_md"] = gr.Markdown(tr("sec_ablation"), elem_id="vv-ablation-md")
        c["off_state"] = gr.State([])  # [[layer, head], …] switched off
        c["off_patches_state"] = gr.State([])  # [patch index, …] switched off (row-major)
        with gr.Row(equal_height=False):
            with gr.Column():
                c["picker_img"] = gr.Image(label=tr("img_picker"), elem_id="vv-ablation-picker", **P.IMG)
                c["picked_md"] = gr.Markdown(tr("ablation_heads_none"), elem_id="vv-ablation-picked")
                c["patch_picker_img"] = gr.Image(label=tr("img_patch_picker"), elem_id="vv-ablation-patches", **P.IMG)
                c["patches_md"] = gr.Markdown(tr("ablation_patches_none"), elem_id="vv-ablation-patches-md")
                c["mode_rd"] = gr.Radio(mode_choices("en"), value="zero", label=tr("ablation_mode"),
                                        elem_id="vv-ablation-mode")
                with gr.Row():
                    c["run_btn"] = gr.Button(tr("ablation_run"), variant="primary", elem_id="vv-ablation-run")
                    c["clear_btn"] = gr.Button(tr("ablation_clear"), elem_id="vv-ablation-clear")
            with gr.Column():
                c["result_md"] = gr.Markdown("", elem_id="vv-ablation-result")
                c["ablated_label"] = gr.Label(num_top_classes=5, label=tr("label"), elem_id="vv-ablation-label")
                c["ablated_img"] = gr.Image(label=tr("img_ablated_rollout"), elem_id="vv-ablation-rollout", **P.IMG)
        c["importance_btn"] = gr.Button(tr("importance_run"), elem_id="vv-importance-run")
        with gr.Row(equal_height=False):
            c["importance_img"] = gr.Image(label=tr("img_importance"), elem_id="vv-importance", **P.IMG)
            c["importance_md"] = gr.Markdown("", elem_id="vv-importance-md")
    return c


def heads_text(off: set, lang: str) -> str:
    return tr("ablation_picked", lang, heads=AV.heads_label(off)) if off else tr("ablation_heads_none", lang)


def patches_text(a: vitviz.Analysis, off: set[int], lang: str) -> str:
    return (tr("ablation_patches_picked", lang, n=len(off), p=a.info.num_patches, patches=AV.patches_label(a, off))
            if off else tr("ablation_patches_none", lang))


def picked(a: vitviz.Analysis, off: set, lang: str) -> Outputs:
    return {"picker_img": AV.head_picker_image(a, off), "picked_md": heads_text(off, lang),
            "off_state": sorted(map(list, off))}


def picked_patches(a: vitviz.Analysis, off: set[int], lang: str) -> Outputs:
    return {"patch_picker_img": AV.patch_picker_image(a, off), "patches_md": patches_text(a, off, lang),
            "off_patches_state": sorted(off)}


def on_lang(s: V.ViewSettings, sess: Session | None, heads, patches) -> Outputs:
    """A language switch: what is switched off, said in the new language (the states hold it)."""
    if sess is None or sess.analysis is None:
        return {}
    return {"picked_md": heads_text(_off(heads), s.lang),
            "patches_md": patches_text(sess.analysis, _off_patches(patches), s.lang)}


def cleared(a: vitviz.Analysis, lang: str) -> Outputs:
    """Every head and every patch on again."""
    return {**picked(a, set(), lang), **picked_patches(a, set(), lang)}


def texts(s: V.ViewSettings, sess: Session | None) -> Outputs:
    sess, s, out, info = P.section_texts(s, sess, LABELS, BUTTONS)
    out["abl_md"] = tr("sec_ablation", s.lang)
    out["mode_rd"] = gr.update(choices=mode_choices(s.lang), label=tr("ablation_mode", s.lang))
    return out


def pictures(s: V.ViewSettings, sess: Session) -> Outputs:
    """A new analysis: every head and patch on again, the results of the previous image cleared."""
    has_head = bool(sess.analysis.predictions)
    out = cleared(sess.analysis, s.lang)
    out.update({"result_md": "", "ablated_label": None, "ablated_img": None, "importance_img": None,
                "importance_md": "", "run_btn": gr.update(interactive=has_head),
                "importance_btn": gr.update(interactive=has_head)})
    return out


def _off(state) -> set[tuple[int, int]]:
    return {(int(l), int(h)) for l, h in (state or ())}


def _off_patches(state) -> set[int]:
    return {int(i) for i in (state or ())}


def on_pick(s: V.ViewSettings, sess: Session | None, index, state) -> Outputs:
    """A click on a tile of the grid switches that head off (or on again)."""
    if sess is None or sess.analysis is None or index is None:
        return {}
    head = AV.head_at_pixel(sess.analysis, index[0], index[1])
    off = _off(state)
    if head is not None:
        off.symmetric_difference_update({head})
    return picked(sess.analysis, off, s.lang)


def on_pick_patch(s: V.ViewSettings, sess: Session | None, index, state) -> Outputs:
    """A click on the patch picker switches that patch off (or on again)."""
    if sess is None or sess.analysis is None or index is None:
        return {}
    off = _off_patches(state)
    off.symmetric_difference_update({AV.patch_at_pixel(sess.analysis, index[0], index[1])})
    return picked_patches(sess.analysis, off, s.lang)


def on_clear(s: V.ViewSettings, sess: Session | None) -> Outputs:
    return {} if sess is None or sess.analysis is None else cleared(sess.analysis, s.lang)


def on_run(s: V.ViewSettings, sess: Session | None, state, mode, patches=(), progress=None) -> Outputs:
    """One more forward pass of the analysed input with the chosen heads off and patches dropped:
    its top-5, the top class's Δ probability and the rollout of its own attention."""
    if sess is None or sess.analysis is None:
        return {}
    off, off_patches, mode = _off(state), _off_patches(patches), mode or "zero"
    if not off and not off_patches:
        return {"result_md": tr("ablation_none", s.lang)}
    a = sess.analysis
    try:
        ablated = ablate(P.model_of(sess), a.input, off, off_patches, mode, fusion=a.fusion,
                         discard_ratio=a.discard_ratio, time_limit=P.REQUEST_TIME_LIMIT_S)
    except ERRORS as exc:
        gr.Warning(str(exc))
        return {}
    return {"result_md": AV.ablation_text(a, ablated, off, mode, s.lang, off_patches),
            "ablated_label": AV.ablated_label(a, ablated) or None,
            "ablated_img": AV.ablated_rollout_image(a, ablated, s.lang)}


def on_importance(s: V.ViewSettings, sess: Session | None, mode, patches=None, progress=None) -> Outputs:
    """Each head alone off → Δ log-probability of the top class, an L × H map (with the patches
    switched off removed, as in a run)."""
    if sess is None or sess.analysis is None or not sess.analysis.predictions:
        return {}
    a, loaded = sess.analysis, P.model_of(sess)
    report = (lambda f: progress(f, desc=tr("running_importance", s.lang))) if progress else None
    drops = head_importance(loaded, torch.from_numpy(a.input), target=a.predictions[0].index, mode=mode or "zero",
                            progress=report, patches=_off_patches(patches))
    return {"importance_img": AV.importance_image(a, drops, s.lang),
            "importance_md": AV.importance_text(a, drops, s.lang, len(_off_patches(patches)))}


def wire(page: P.Page, c: dict) -> None:
    page.follow(c, texts, pictures)
    page.listen([page.lang.input], on_lang, c, extra=(c["off_state"], c["off_patches_state"]), **P.PRIVATE)
    page.listen([c["picker_img"].select], on_pick, c, extra=(c["off_state"],), event="select", **P.REDRAW)
    page.listen([c["patch_picker_img"].select], on_pick_patch, c, extra=(c["off_patches_state"],), event="select",
                **P.REDRAW)
    page.listen([c["clear_btn"].click], on_clear, c, **P.PRIVATE)
    page.listen([c["run_btn"].click], on_run, c, extra=(c["off_state"], c["mode_rd"], c["off_patches_state"]),
                event="progress", **P.PRIVATE)
    page.listen([c["importance_btn"].click], on_importance, c, extra=(c["mode_rd"], c["off_patches_state"]), event="progress", **P.PRIVATE)
