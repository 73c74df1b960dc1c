"""Section 6: the residual stream after every block — the logit lens (top 5 per block, each
patch token's own reading, when the answer takes the lead) and token norms (high-norm tokens,
what registers are for). Read from the analysis; nothing runs the model."""
from __future__ import annotations

import gradio as gr

from vitviz.ui import page as P
from vitviz.ui.page import Outputs, Session
from vitviz.views import pictures as V
from vitviz.views import residual as RV
from vitviz.views.text import tr

LABELS = {"lens_sl": "lens_layer", "lens_img": "img_lens", "lens_patch_img": "img_lens_patch",
          "norms_img": "img_norms", "norms_depth_img": "img_norms_depth"}


def build(page: P.Page) -> dict:
    c: dict = {}
    with P.section("residual"):
        c["lens_md"] = gr.Markdown(tr("sec_lens"), elem_id="vv-lens-md")
        with gr.Row(equal_height=False):
            c["lens_img"] = gr.Image(label=tr("img_lens"), elem_id="vv-lens", buttons=["download"], **P.IMG)
            c["lens_table_md"] = gr.Markdown("", elem_id="vv-lens-table")
        c["lens_sl"] = gr.Slider(1, 12, value=12, step=1, label=tr("lens_layer"), elem_id="vv-lens-layer")
        with gr.Row(equal_height=False):
            with gr.Column():
                c["lens_patch_img"] = gr.Image(label=tr("img_lens_patch"), elem_id="vv-lens-patch",
                                               buttons=["download"], **P.IMG)
                c["lens_patch_md"] = gr.Markdown("", elem_id="vv-lens-patch-md")
            with gr.Column():
                c["norms_img"] = gr.Image(label=tr("img_norms"), elem_id="vv-norms", buttons=["download"], **P.IMG)
                c["norms_md"] = gr.Markdown("", elem_id="vv-norms-md")
        c["norms_depth_img"] = gr.Image(label=tr("img_norms_depth"), elem_id="vv-norms-depth",
                                        buttons=["download"], **P.IMG)
    return c


def texts(s: V.ViewSettings, sess: Session | None) -> Outputs:
    sess, s, out, info = P.section_texts(s, sess, LABELS)
    a = sess.analysis
    if a is not None:
        out["lens_md"] = tr("sec_lens", s.lang) + "\n\n" + RV.lens_sentence(a, s.lang)
        out["lens_table_md"] = RV.lens_table(a, s.lang)
    return out


def block_views(s: V.ViewSettings, sess: Session | None, block) -> Outputs:
    """What follows the block slider (1-based): each patch token's reading and the token norms."""
    if sess is None or sess.analysis is None:
        return {}
    a = sess.analysis
    layer = min(max(int(block or a.info.depth), 1), a.info.depth) - 1
    return {"lens_patch_img": RV.lens_patch_image(a, layer, s.lang),
            "lens_patch_md": RV.lens_patch_text(a, layer, s.lang),
            "norms_img": RV.norms_image(a, layer, s.lang), "norms_md": RV.norms_text(a, layer, s.lang),
            "norms_depth_img": RV.norms_depth_image(a, layer, s.lang)}


def pictures(s: V.ViewSettings, sess: Session) -> Outputs:
    a = sess.analysis
    has_lens = a.logit_lens is not None
    out = block_views(s, sess, a.info.depth)
    out.update({"lens_img": gr.update(value=RV.lens_image(a, s.lang), visible=has_lens),
                "lens_patch_img": gr.update(value=out["lens_patch_img"], visible=has_lens),
                "lens_sl": gr.update(maximum=a.info.depth, value=a.info.depth, label=tr("lens_layer", s.lang))})
    return out


def on_block(s: V.ViewSettings, sess: Session | None, block) -> Outputs:
    return block_views(s, sess, block)


def on_lang(s: V.ViewSettings, sess: Session | None, block) -> Outputs:
    """Language switch: the figures whose labels are words (`texts` does the rest)."""
    if sess is None or sess.analysis is None:
        return {}
    return dict(block_views(s, sess, block), lens_img=RV.lens_image(sess.analysis, s.lang))


def wire(page: P.Page, c: dict) -> None:
    page.follow(c, texts, pictures, slow=True)
    page.listen([c["lens_sl"].input], on_block, c, extra=(c["lens_sl"],), **P.REDRAW)
    page.listen([page.lang.input], on_lang, c, extra=(c["lens_sl"],), **P.REDRAW)
