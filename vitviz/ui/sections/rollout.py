"""Section 4: attention rollout in the browser (every fusion × discard setting precomputed, the
per-head rollouts) and the class-specific relevance map (which runs the model once more)."""
from __future__ import annotations

import dataclasses

import gradio as gr

import vitviz
from vitviz import CaptureTimeout, ImageError, ModelLoadError
from vitviz.ui import explorer as E
from vitviz.ui import page as P
from vitviz.ui.page import Outputs, Session
from vitviz.views import pictures as V
from vitviz.views.text import tr

LABELS = {"class_dd": "relevance_class", "relevance_img": "img_relevance"}
MODE = "rollout"
BUTTONS = {"relevance_btn": "relevance_button"}
FIXED = {"relevance_md": "relevance_expl"}


def build(page: P.Page) -> dict:
    c: dict = {}
    with P.section("rollout"):
        c["d_md"] = gr.Markdown(tr("sec_d"))
        c["explorer"] = E.build(MODE, "vv-rollout-explorer")
        c["relevance_md"] = gr.Markdown(tr("relevance_expl"))
        with gr.Row(equal_height=False):
            with gr.Column():
                c["class_dd"] = gr.Dropdown(choices=[], label=tr("relevance_class"), elem_id="vv-class")
                c["relevance_btn"] = gr.Button(tr("relevance_button"), elem_id="vv-relevance-btn")
            c["relevance_img"] = gr.Image(label=tr("img_relevance"), elem_id="vv-relevance", buttons=["download"],
                                          **P.IMG)
    page.explorers[MODE] = c["explorer"]
    return c


def texts(s: V.ViewSettings, sess: Session | None) -> Outputs:
    sess, s, out, info = P.section_texts(s, sess, LABELS, BUTTONS, FIXED)
    if info is not None:
        out["d_md"] = V.rollout_text(info, s.lang)
    out["explorer"] = E.value(MODE, s, sess.tab, sess.analysis)
    if sess.analysis is not None and sess.analysis.relevance is not None:  # its colour bar's label follows the language
        P.redrawn(out, {"relevance_img": V.relevance_image(sess.analysis, s.lang)})
    return out


def pictures(s: V.ViewSettings, sess: Session) -> Outputs:
    a = sess.analysis
    top = a.predictions[0].index if a.predictions else None
    return {"class_dd": gr.update(choices=V.class_choices(a), value=top, label=tr("relevance_class", s.lang),
                                  interactive=bool(a.predictions)),
            "relevance_btn": gr.update(interactive=bool(a.predictions)), "relevance_img": V.relevance_image(a, s.lang)}


def on_explore(s: V.ViewSettings, sess: Session | None, report: dict) -> Outputs:
    """The rollout explorer's fusion and discard ratio become the page's (export uses them)."""
    if report.get("mode") != MODE:
        return {}
    return {"view": P.view_state(P.explored(s, report))}


def on_relevance(s: V.ViewSettings, sess: Session | None, cls) -> Outputs:
    """Class-specific relevance for class `cls` (default: the top class): one more forward and backward."""
    if sess is None or sess.analysis is None or sess.image_path is None:
        return {}
    a = sess.analysis
    if not a.predictions:
        gr.Warning(tr("no_head", s.lang, c=a.info.embed_dim))
        return {}
    index = int(cls) if cls is not None else a.predictions[0].index
    try:
        r = vitviz.analyze(P.model_of(sess), sess.image_path, fusion=a.fusion, discard_ratio=a.discard_ratio,
                           relevance_class=index, time_limit=P.REQUEST_TIME_LIMIT_S)
    except (ImageError, ModelLoadError, ValueError, CaptureTimeout) as exc:
        gr.Warning(str(exc))
        return {}
    new_a = dataclasses.replace(a, relevance=r.relevance, relevance_class=r.relevance_class)
    return {"relevance_img": V.relevance_image(new_a, s.lang), "session": dataclasses.replace(sess, analysis=new_a)}


def wire(page: P.Page, c: dict) -> None:
    page.follow(c, texts, pictures)
    page.listen([c["explorer"].select], on_explore, dict(c, view=page.view), event="explore", **P.REDRAW)
    page.listen([c["relevance_btn"].click], on_relevance, dict(c, session=page.session), extra=(c["class_dd"],),
                **P.PRIVATE)
