"""Section 5: the prediction (the classifier head's top 5)."""
from __future__ import annotations

import gradio as gr

from vitviz.ui import page as P
from vitviz.ui.page import Outputs, Session
from vitviz.views import pictures as V
from vitviz.views.text import tr

LABELS = {"label2": "label"}


def build(page: P.Page) -> dict:
    c: dict = {}
    with P.section("prediction"):
        c["e_md"] = gr.Markdown(tr("sec_e"), elem_id="vv-pred-md")
        c["label2"] = gr.Label(num_top_classes=5, label=tr("label"), elem_id="vv-label2")
    return c


def texts(s: V.ViewSettings, sess: Session | None) -> Outputs:
    sess, s, out, info = P.section_texts(s, sess, LABELS)
    if info is not None:
        out["e_md"] = V.prediction_text(info, s.lang, P.is_random(sess))
    return out


def pictures(s: V.ViewSettings, sess: Session) -> Outputs:
    return {"label2": V.prediction_label(sess.analysis) or None}


def wire(page: P.Page, c: dict) -> None:
    page.follow(c, texts, pictures)
