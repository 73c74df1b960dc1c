"""Section 2: position embeddings (all of them, and the selected patch's similarity map)."""
from __future__ import annotations

import gradio as gr

from vitviz.ui import page as P
from vitviz.ui.page import Outputs, Session
from vitviz.views import pictures as V
from vitviz.views.text import tr

LABELS = {"pos_all_img": "img_pos_all", "pos_patch_img": "img_pos_patch"}


def build(page: P.Page) -> dict:
    c: dict = {}
    with P.section("position"):
        c["b_md"] = gr.Markdown(tr("sec_b"))
        with gr.Row(equal_height=False):
            c["pos_all_img"] = gr.Image(label=tr("img_pos_all"), elem_id="vv-pos-all",
                                        buttons=["download", "fullscreen"], **P.IMG)
            c["pos_patch_img"] = gr.Image(label=tr("img_pos_patch"), elem_id="vv-pos-patch", buttons=["download"],
                                          **P.IMG)
    page.patch_images.append(c["pos_patch_img"])
    return c


def texts(s: V.ViewSettings, sess: Session | None) -> Outputs:
    sess, s, out, info = P.section_texts(s, sess, LABELS)
    if info is not None:
        a = sess.analysis
        out["b_md"] = V.position_text(info, s.lang, a.pos_locality if a is not None else None)
        if a is not None:  # the figures' labels follow the language too
            P.redrawn(out, pictures(s, sess))
    return out


def pictures(s: V.ViewSettings, sess: Session) -> Outputs:
    """The pictures for a new analysis."""
    return {"pos_all_img": V.position_all_image(sess.analysis, s.lang),
            "pos_patch_img": V.position_patch_image(sess.analysis, s.patch, s.lang)}


def on_patch_select(s: V.ViewSettings, sess: Session | None, index) -> Outputs:
    s = P.clicked(s, sess, index)
    return {} if s is None else {"pos_patch_img": V.position_patch_image(sess.analysis, s.patch, s.lang)}


def on_explore(s: V.ViewSettings, sess: Session | None, report: dict) -> Outputs:
    pinned = P.explored(s, report)
    if sess is None or sess.analysis is None or pinned.patch == s.patch:
        return {}
    return {"pos_patch_img": V.position_patch_image(sess.analysis, P.clamp(sess.analysis, pinned).patch, s.lang)}


def wire(page: P.Page, c: dict) -> None:
    page.follow(c, texts, pictures)
    page.listen([i.select for i in page.patch_images], on_patch_select, c, event="select", **P.REDRAW)
    page.listen([e.select for e in page.explorers.values()], on_explore, c, event="explore", **P.REDRAW)
