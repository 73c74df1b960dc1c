"""Lesson mode: the forward pass one step per screen, for a class in front of a projector.

One `gr.HTML` holds every step of the current analysis (`vitviz.views.lesson.lesson_steps`);
its figures (PNG data URLs, ~1.4 MB) are not in the value but fetched once by the script through
the server function `lesson_figures`, with the unguessable token the value carries: gradio copies
every component's value on each status message of every event (`$state.snapshot`), and a value
of 1.4 MB made every event of the page wait (benchmarks/RESULTS.md, session 19). Moving between
steps happens in the browser, with no server request: the buttons `#vv-lesson-prev` /
`#vv-lesson-next`, the Left / Right arrow keys, a step counter, and the step in the address
(`?step=7` opens step 7; moving updates it with history.replaceState, so a slide can link to a
step). Steps 2, 3 and 7 animate on a canvas
(patches sliding into the sequence, the prefix tokens put in front, one attention row being
computed) unless the reader asks for reduced motion. gradio re-renders the template by
morphing the children of `element`; the script (`vitviz/ui/lesson.js`) keeps its state
(the current step) in itself and re-applies it after every new value.
"""
from __future__ import annotations

import html
import json
from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from vitviz.analysis.neuron import AnalysisCache
from vitviz.ui import page as P
from vitviz.ui.capabilities import CapabilityStore
from vitviz.ui.page import Outputs, Session
from vitviz.views import lesson as LV
from vitviz.views import pictures as V
from vitviz.views.lesson_text import lt

PAGES = AnalysisCache(8)  # per analysis, model and language: the component's HTML and its figures


@dataclass(eq=False)
class LessonPage:
    """The component's value (the steps' HTML, figures left out) and the figures' data URLs, in order."""

    html: str
    figures: tuple[str, ...]


TOKENS: CapabilityStore[LessonPage] = CapabilityStore()  # token → the page its figures belong to


def lesson_figures(args) -> list[str] | dict:
    """[token] (or the token) → the figures' data URLs of that page, else {"error": "stale"}."""
    token = args[0] if isinstance(args, (list, tuple)) and args else args
    page = TOKENS.lookup(token)
    return list(page.figures) if page is not None else {"error": "stale"}

CSS = """
.vvl {display: flex; flex-direction: column; gap: 10px; box-sizing: border-box; height: calc(100vh - 24px);
  min-height: 440px; max-height: 960px; padding: 12px 16px; background: #fff; color: #1b1b1b;
  border: 1px solid #d8d8d8; border-radius: 10px; font-size: 24px; line-height: 1.42;
  font-family: "Noto Sans", "DejaVu Sans", system-ui, "Noto Sans CJK SC", sans-serif;}
.vvl:lang(zh) {font-family: "Noto Sans CJK SC", "Noto Sans SC", "Microsoft YaHei", system-ui, sans-serif;}
.vvl-bar {display: flex; align-items: center; gap: 12px; flex-wrap: wrap; flex: none;}
.vvl button {font: inherit; font-size: 20px; line-height: 1.2; min-height: 44px; padding: 6px 18px; border-radius: 8px;
  border: 2px solid #3b528b; background: #3b528b; color: #fff; cursor: pointer;}
.vvl button:disabled {opacity: 0.35; cursor: default;}
.vvl button:focus-visible {outline: 3px solid #e6550d; outline-offset: 2px;}
.vvl .vvl-full {margin-left: auto; background: #fff; color: #3b528b;}
.vvl-counter {font-size: 24px; font-weight: 700; font-variant-numeric: tabular-nums; min-width: 4.2em; text-align: center;}
.vvl-meta {font-size: 17px; color: #555;}
.vvl-step {display: none; flex: 1 1 auto; min-height: 0;}
.vvl-step.vvl-on {display: grid; grid-template-columns: minmax(0, 5fr) minmax(0, 7fr);
  grid-template-rows: auto minmax(0, 1fr); grid-template-areas: "title fig" "body fig"; column-gap: 28px;}
.vvl-title {grid-area: title; font-size: 36px; line-height: 1.18; font-weight: 700; margin: 4px 0 16px; color: #1b1b1b;}
.vvl-body {grid-area: body; min-height: 0; overflow: auto;}
.vvl-num {display: inline-block; min-width: 1.35em; margin-right: 0.35em; padding: 0 0.15em; border-radius: 0.25em;
  background: #e6550d; color: #fff; text-align: center;}
.vvl-body p {margin: 0 0 0.6em; font-size: 24px;}
.vvl-body strong {color: #8a3000;}
.vvl-body code {font-size: 0.9em; background: #f2f2f2; padding: 0 0.2em; border-radius: 4px;}
.vvl-fig {grid-area: fig; position: relative; margin: 0; min-height: 0; min-width: 0;}
.vvl-img, .vvl-anim {position: absolute; inset: 0; width: 100%; height: 100%; object-fit: contain;}
.vvl-anim {display: none;}
.vvl-fig.vvl-animating .vvl-anim {display: block;}
.vvl-fig.vvl-animating .vvl-img {visibility: hidden;}
.vvl .vvl-replay {display: none; position: absolute; right: 4px; top: 4px; font-size: 17px; min-height: 38px;
  padding: 4px 12px; background: rgba(255, 255, 255, 0.92); color: #3b528b;}
.vvl-fig.vvl-animating .vvl-replay {display: block;}
.vvl-empty {font-size: 22px; color: #444; margin: 0;}
.vvl-input {display: none;}
@media (max-width: 900px), (orientation: portrait) and (max-width: 1100px) {
  .vvl {height: auto; min-height: 0; max-height: none; padding: 10px; gap: 8px; font-size: 22px;}
  .vvl-bar {gap: 8px; flex-wrap: nowrap;}
  .vvl-step.vvl-on {display: flex; flex-direction: column; gap: 10px;}
  .vvl-title {font-size: 28px; margin: 2px 0 0;}
  .vvl-body {overflow: visible;}
  .vvl-body p {font-size: 22px;}
  .vvl-fig {flex: none; order: 1;}
  .vvl-body {order: 2;}
  .vvl .vvl-replay {position: static; margin: 4px 0 0 auto;}
  .vvl-img {position: static; display: block; height: auto; max-height: 60vh;}
  .vvl-anim {position: static; height: auto; aspect-ratio: 900 / 780;}
  .vvl-fig.vvl-animating .vvl-img {display: none;}
  .vvl button {font-size: 18px; padding: 6px 8px; white-space: nowrap;}
  .vvl-counter {font-size: 19px; min-width: 0; flex: 1; white-space: nowrap;}
  .vvl .vvl-full, .vvl-meta {display: none;}
}
&:fullscreen {background: #fff; overflow: hidden;}
&:fullscreen .vvl {height: 100vh; max-height: none; border: 0; border-radius: 0;}
@media (prefers-reduced-motion: reduce) {
  .vvl-fig.vvl-animating .vvl-anim, .vvl-fig.vvl-animating .vvl-replay {display: none;}
  .vvl-fig.vvl-animating .vvl-img {visibility: visible; display: block;}
}
"""

# The browser side (step navigation, the canvas animations) lives in vitviz/ui/lesson.js, a file of
# its own so editors and linters treat it as JavaScript (package data, read once at import).
SCRIPT = (Path(__file__).parent.parent / "lesson.js").read_text(encoding="utf-8")


def _attr(value) -> str:
    return html.escape(str(value), quote=True)


def empty_value(lang: str) -> str:
    return f'<div class="vvl vvl-idle" lang="{_lang(lang)}"><p class="vvl-empty">{html.escape(lt("ui_empty", lang))}</p></div>'


def _lang(lang: str) -> str:
    return "zh-Hans" if lang == "zh" else "en"


def _step_html(step: LV.LessonStep, i: int, n: int, lang: str, fig_index: int | None) -> str:
    anim = ""
    if step.animation:
        data = {k: v for k, v in step.data.items() if k != "image"}
        anim = f' data-anim="{_attr(step.animation)}" data-anim-data="{_attr(json.dumps(data, ensure_ascii=False))}"'
    fig = ""
    if fig_index is not None:
        canvas = (f'<canvas class="vvl-anim" role="img" aria-label="{_attr(step.alt)}"></canvas>'
                  f'<button type="button" class="vvl-replay">{html.escape(lt("ui_replay", lang))}</button>'
                  if step.animation else "")
        fig = (f'<figure class="vvl-fig"><img class="vvl-img" data-fig="{fig_index}" '
               f'alt="{_attr(step.alt)}">{canvas}</figure>')
    on = " vvl-on" if i == 1 else ""
    return (f'<section class="vvl-step{on}" data-n="{i}" data-key="{step.key}" aria-label="{i} / {n}: '
            f'{_attr(step.title)}"{anim}><h2 class="vvl-title"><span class="vvl-num">{i}</span>'
            f'{html.escape(step.title)}</h2><div class="vvl-body">{LV.body_html(step.body)}</div>{fig}</section>')


def lesson_page(steps: list[LV.LessonStep], lang: str, meta: str = "") -> LessonPage:
    """The component's HTML (the navigation bar, then every step; only the first shown until the script
    runs) with `data-fig` indices where the figures go, and the figures, bound to a new token."""
    n = len(steps)
    figures: list[str] = []

    def figure(image) -> int | None:
        if image is None:
            return None
        figures.append(LV.figure_url(image))
        return len(figures) - 1

    bar = (f'<div class="vvl-bar"><button type="button" id="vv-lesson-prev" aria-label="{_attr(lt("ui_prev_label", lang))}"'
           f' disabled>{html.escape(lt("ui_prev", lang))}</button><span class="vvl-counter" aria-live="polite">1 / {n}'
           f'</span><button type="button" id="vv-lesson-next" aria-label="{_attr(lt("ui_next_label", lang))}"'
           f'{" disabled" if n <= 1 else ""}>{html.escape(lt("ui_next", lang))}</button>'
           f'<span class="vvl-meta">{html.escape(meta)}</span>'
           f'<button type="button" class="vvl-full">{html.escape(lt("ui_full", lang))}</button></div>')
    body = "".join(_step_html(s, i, n, lang, figure(s.figure)) for i, s in enumerate(steps, 1))
    image = next((s.data["image"] for s in steps if s.animation and "image" in s.data), None)
    source = f'<img class="vvl-input" alt="" data-fig="{figure(image)}">' if image is not None else ""
    page = LessonPage("", tuple(figures))
    token = TOKENS.issue(page)
    page.html = f'<div class="vvl" lang="{_lang(lang)}" data-steps="{n}" data-figures="{token}">{bar}{body}{source}</div>'
    return page


def _value(sess: Session, lang: str) -> str:
    a, loaded = sess.analysis, P.model_of(sess)
    _, h, w = a.info.input_size

    def compute() -> LessonPage:
        meta = lt("ui_model", lang, model=a.info.name, h=h, w=w, n=a.info.num_tokens)
        return lesson_page(LV.lesson_steps(a, loaded, lang), lang, meta)

    return PAGES.get(a, f"{id(loaded.model)}:{lang}", compute).html


def build(page: P.Page) -> dict:
    c: dict = {}
    with gr.Column(elem_classes="vv-section", elem_id="vv-lesson"):
        c["lesson_md"] = gr.Markdown(lt("ui_heading_empty"), elem_id="vv-lesson-md")
        c["lesson_html"] = gr.HTML(value=empty_value("en"), html_template="${value}", css_template=CSS,
                                   js_on_load=SCRIPT, apply_default_css=False, padding=False, server_functions=[lesson_figures],
                                   elem_id="vv-lesson-html")
    return c


def texts(s: V.ViewSettings, sess: Session | None) -> Outputs:
    """The heading and, once there is an analysis, every step in the page's language."""
    sess, s = P.prepare(s, sess)
    if sess.analysis is None or sess.model_key is None:
        return {"lesson_md": lt("ui_heading_empty", s.lang), "lesson_html": empty_value(s.lang)}
    value = _value(sess, s.lang)
    n = value.count('<section class="vvl-step')
    return {"lesson_md": lt("ui_heading", s.lang, n=n), "lesson_html": value}


def pictures(s: V.ViewSettings, sess: Session) -> Outputs:
    """A new analysis: its steps (the same value `texts` gives; cached)."""
    return {"lesson_html": _value(sess, s.lang)}


def wire(page: P.Page, c: dict) -> None:
    page.follow(c, texts, pictures, slow=True)
