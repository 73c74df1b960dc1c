"""Section 3: self-attention (layer, head and query controls; per-head maps, distances, the
attention computation of one head and the block's measurements)."""
from __future__ import annotations

import gradio as gr

import vitviz
from vitviz.ui import page as P
from vitviz.ui.page import Outputs, Session
from vitviz.views import pictures as V
from vitviz.views.text import tr

LABELS = {"layer_sl": "layer", "head_rd": "head", "query_rd": "query_kind", "query_img": "img_query",
          "query_heads_img": "img_query_heads", "heads_img": "img_heads", "overview_img": "img_overview",
          "distance_img": "img_distance", "neuron_img": "img_neuron", "block_img": "img_block"}


def build(page: P.Page) -> dict:
    c: dict = {}
    with P.section("attention"):
        c["c_md"] = gr.Markdown(tr("sec_c"))
        with gr.Row():
            c["layer_sl"] = gr.Slider(1, 12, value=1, step=1, label=tr("layer"), elem_id="vv-layer")
            c["head_rd"] = gr.Radio([("1", 0)], value=0, label=tr("head"), elem_id="vv-head")
            c["query_rd"] = gr.Radio([(tr("query_patch"), "patch"), ("CLS", "CLS")], value="patch",
                                     label=tr("query_kind"), elem_id="vv-query")
        with gr.Row(equal_height=False):
            c["query_img"] = gr.Image(label=tr("img_query"), elem_id="vv-query-img",
                                      buttons=["download", "fullscreen"], **P.IMG)
            with gr.Column():
                c["query_heads_img"] = gr.Image(label=tr("img_query_heads"), elem_id="vv-query-heads",
                                                buttons=["download"], **P.IMG)
                c["heads_img"] = gr.Image(label=tr("img_heads"), elem_id="vv-heads", buttons=["download"], **P.IMG)
        with gr.Row(equal_height=False):
            c["overview_img"] = gr.Image(label=tr("img_overview"), elem_id="vv-overview",
                                         buttons=["download", "fullscreen"], **P.IMG)
            with gr.Column():
                c["distance_img"] = gr.Image(label=tr("img_distance"), elem_id="vv-distance",
                                             buttons=["download"], **P.IMG)
                c["distance_md"] = gr.Markdown("")
        with gr.Row(equal_height=False):
            with gr.Column():
                c["neuron_md"] = gr.Markdown(tr("sub_neuron"), elem_id="vv-neuron-md")
                c["neuron_img"] = gr.Image(label=tr("img_neuron"), elem_id="vv-neuron",
                                           buttons=["download", "fullscreen"], **P.IMG)
            with gr.Column():
                c["block_md"] = gr.Markdown(tr("sub_block"), elem_id="vv-block-md")
                c["block_img"] = gr.Image(label=tr("img_block"), elem_id="vv-block", buttons=["download"], **P.IMG)
    page.layer, page.head, page.query = c["layer_sl"], c["head_rd"], c["query_rd"]
    page.patch_images.append(c["query_img"])
    return c


def query_choices(a: vitviz.Analysis, lang: str) -> list[tuple[str, str]]:
    return [(tr("query_patch", lang), "patch")] + [(n, n) for n in a.info.prefix_names]


def texts(s: V.ViewSettings, sess: Session | None) -> Outputs:
    sess, s, out, info = P.section_texts(s, sess, LABELS)
    if info is not None:
        out["c_md"] = V.attention_text(info, s.lang)
        out["distance_md"] = V.distance_text(info, s.lang)
    a = sess.analysis
    if a is not None:
        model = P.model_of(sess).model
        out["query_rd"] = gr.update(label=tr("query_kind", s.lang), choices=query_choices(a, s.lang))
        out["neuron_md"] = V.neuron_text(model, a, s)
        out["block_md"] = V.block_text(a, s, model)
    return out


def head_views(s: V.ViewSettings, sess: Session | None) -> Outputs:
    """What depends on the query token, layer and head."""
    if sess is None or sess.analysis is None:
        return {}
    a = sess.analysis
    s = P.clamp(a, s)
    text, fig = V.neuron_view(P.model_of(sess).model, a, s)
    return {"query_img": V.query_image(a, s), "query_heads_img": V.query_heads_image(a, s),
            "neuron_md": text, "neuron_img": fig}


def layer_views(s: V.ViewSettings, sess: Session | None) -> Outputs:
    """What depends on the layer (and, through head_views, on the head and query)."""
    out = head_views(s, sess)
    if out:
        a, s = sess.analysis, P.clamp(sess.analysis, s)
        out.update({"heads_img": V.layer_heads_image(a, s.layer), "overview_img": V.overview_image(a, s.layer),
                    "distance_img": V.distance_image(a, s.layer),
                    "block_md": V.block_text(a, s, P.model_of(sess).model),
                    "block_img": V.block_stats_image(a, s.layer)})
    return out


def pictures(s: V.ViewSettings, sess: Session) -> Outputs:
    """Everything for a new analysis, and the controls set to its depth, heads and prefix tokens."""
    a = sess.analysis
    out = layer_views(s, sess)
    out.update({
        "layer_sl": gr.update(maximum=a.info.depth, value=s.layer + 1, label=tr("layer", s.lang)),
        "head_rd": gr.update(choices=[(str(h + 1), h) for h in range(a.info.num_heads)], value=s.head,
                             label=tr("head", s.lang)),
        "query_rd": gr.update(choices=query_choices(a, s.lang), value=s.query, label=tr("query_kind", s.lang)),
    })
    return out


def on_patch_select(s: V.ViewSettings, sess: Session | None, index) -> Outputs:
    s = P.clicked(s, sess, index)
    return {} if s is None else head_views(s, sess)


def wire(page: P.Page, c: dict) -> None:
    page.follow(c, texts, pictures)
    page.listen([c["layer_sl"].input], layer_views, c, **P.REDRAW)
    page.listen([c["head_rd"].input, c["query_rd"].input], head_views, c, **P.REDRAW)
    page.listen([i.select for i in page.patch_images], on_patch_select, c, event="select", **P.REDRAW)
