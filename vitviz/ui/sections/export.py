"""Section 6: export (the figures and the analysis as files; written by vitviz.views.export)."""
from __future__ import annotations

import gradio as gr

from vitviz.ui import page as P
from vitviz.ui.page import Outputs, Session
from vitviz.views import pictures as V
from vitviz.views.export import export_analysis
from vitviz.views.text import tr

LABELS = {"files_out": "export_files"}
BUTTONS = {"export_btn": "export_button"}


def section_text(lang: str) -> str:
    return tr("sec_f", lang) + "\n\n" + tr("expl_f", lang)


def build(page: P.Page) -> dict:
    c: dict = {}
    with P.section("export"):
        c["f_md"] = gr.Markdown(section_text("en"))
        c["export_btn"] = gr.Button(tr("export_button"), elem_id="vv-export-btn")
        c["files_out"] = gr.File(label=tr("export_files"), file_count="multiple", interactive=False,
                                 elem_id="vv-files")
    return c


def texts(s: V.ViewSettings, sess: Session | None) -> Outputs:
    return dict(P.translated(s.lang, LABELS, BUTTONS), f_md=section_text(s.lang))


def pictures(s: V.ViewSettings, sess: Session) -> Outputs:
    return {"files_out": None}  # the previous image's files


def on_export(s: V.ViewSettings, sess: Session | None) -> Outputs:
    if sess is None or sess.analysis is None:
        gr.Warning(tr("status_image", s.lang))
        return {}
    a = sess.analysis
    return {"files_out": export_analysis(P.model_of(sess), a, P.clamp(a, s))}


def wire(page: P.Page, c: dict) -> None:
    page.follow(c, texts, pictures)
    page.listen([c["export_btn"].click], on_export, c, **P.PRIVATE)
