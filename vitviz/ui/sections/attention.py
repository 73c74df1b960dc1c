"""Section 3: self-attention. The explorer (drawn in the browser: hover a patch, scrub layers and
heads) and, from the server, what follows its selection: attention distance, the attention
computation of one head and the block's measurements."""
from __future__ import annotations

import dataclasses

import gradio as gr

from vitviz.ui import explorer as E
from vitviz.ui import page as P
from vitviz.ui.page import Outputs, Session
from vitviz.views import pictures as V
from vitviz.views.text import tr

LABELS = {"distance_img": "img_distance", "neuron_img": "img_neuron", "block_img": "img_block"}
MODE = "attention"


def build(page: P.Page) -> dict:
    c: dict = {}
    with P.section("attention"):
        c["c_md"] = gr.Markdown(tr("sec_c"))
        c["explorer"] = E.build(MODE, "vv-explorer")
        with gr.Row(equal_height=False):
            with gr.Column():
                c["neuron_md"] = gr.Markdown(tr("sub_neuron"), elem_id="vv-neuron-md")
                c["neuron_img"] = gr.Image(label=tr("img_neuron"), elem_id="vv-neuron",
                                           buttons=["download", "fullscreen"], **P.IMG)
            with gr.Column():
                c["distance_img"] = gr.Image(label=tr("img_distance"), elem_id="vv-distance",
                                             buttons=["download"], **P.IMG)
                c["distance_md"] = gr.Markdown("")
        with gr.Row(equal_height=False):
            with gr.Column():
                c["block_md"] = gr.Markdown(tr("sub_block"), elem_id="vv-block-md")
            with gr.Column():
                c["block_img"] = gr.Image(label=tr("img_block"), elem_id="vv-block", buttons=["download"], **P.IMG)
    page.explorers[MODE] = c["explorer"]
    return c


def texts(s: V.ViewSettings, sess: Session | None) -> Outputs:
    sess, s, out, info = P.section_texts(s, sess, LABELS)
    if info is not None:
        out["c_md"] = V.attention_text(info, s.lang)
        out["distance_md"] = V.distance_text(info, s.lang)
    out["explorer"] = E.value(MODE, s, sess.tab, sess.analysis)
    P.redrawn(out, selection_views(s, sess))  # the words in the figures follow the language too
    return out


def selection_views(s: V.ViewSettings, sess: Session | None) -> Outputs:
    """What follows the explorer's layer, head, query and pinned patch."""
    if sess is None or sess.analysis is None:
        return {}
    a = sess.analysis
    s = P.clamp(a, s)
    model = P.model_of(sess).model
    text, fig = V.neuron_view(model, a, s)
    return {"neuron_md": text, "neuron_img": fig, "distance_img": V.distance_image(a, s.layer, s.lang),
            "block_md": V.block_text(a, s, model), "block_img": V.block_stats_image(a, s.layer, s.lang)}


def pictures(s: V.ViewSettings, sess: Session) -> Outputs:
    """Everything for a new analysis."""
    return selection_views(s, sess)


def on_explore(s: V.ViewSettings, sess: Session | None, report: dict) -> Outputs:
    """The explorer reported a new selection: keep it in the view state and re-draw what follows it."""
    if report.get("mode") != MODE:
        return {}
    s = P.explored(s, report)
    return dict(selection_views(s, sess), view=P.view_state(s))


def on_patch_select(s: V.ViewSettings, sess: Session | None, index) -> Outputs:
    """A click on another picture of the patch grid: the explorer pins that patch too."""
    s = P.clicked(s, sess, index)
    if s is None:
        return {}
    return dict(selection_views(s, sess), explorer=E.value(MODE, s, sess.tab, sess.analysis))


def wire(page: P.Page, c: dict) -> None:
    page.follow(c, texts, pictures)
    page.listen([c["explorer"].select], on_explore, dict(c, view=page.view), event="explore", **P.REDRAW)
    page.listen([i.select for i in page.patch_images], on_patch_select, c, event="select", **P.REDRAW)
