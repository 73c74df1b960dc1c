"""The lesson as a printable handout: one self-contained HTML file, one step per printed page.

`handout_html(steps, lang)` takes the steps of `vitviz.views.lesson.lesson_steps` and returns
the whole page: figures inlined as PNG data URLs (no other file, no network), print-friendly
CSS (A4 or Letter, a page break after every step, figures kept on their page).
"""
from __future__ import annotations

import html
from typing import Sequence

from vitviz.analysis.analyze import Analysis
from vitviz.core.model import LoadedModel
from vitviz.views.lesson import LessonStep, body_html, figure_url, lesson_steps
from vitviz.views.lesson_text import lt

CSS = """
:root {color-scheme: light;}
body {font-family: "Noto Sans", "DejaVu Sans", system-ui, sans-serif; color: #1b1b1b; background: #fff;
  max-width: 54rem; margin: 0 auto; padding: 1.5rem; font-size: 13pt; line-height: 1.45;}
html:lang(zh-Hans) body {font-family: "Noto Sans CJK SC", "Noto Sans SC", "Microsoft YaHei", sans-serif;}
header {border-bottom: 2px solid #e6550d; margin-bottom: 1.5rem;}
header h1 {font-size: 22pt; margin: 0 0 0.2em;}
header p {margin: 0 0 0.8em; color: #555;}
.step {padding: 0.5rem 0 1.5rem; border-bottom: 1px solid #ddd; margin-bottom: 1.5rem;}
.step .n {display: block; font-size: 10pt; color: #777; text-transform: uppercase; letter-spacing: 0.05em;}
.step h2 {font-size: 19pt; margin: 0.1em 0 0.5em;}
.step h2 .num {display: inline-block; min-width: 1.4em; margin-right: 0.35em; border-radius: 0.25em;
  background: #e6550d; color: #fff; text-align: center;}
.body p {margin: 0 0 0.6em;}
.body strong {color: #8a3000;}
figure {margin: 1rem 0 0; text-align: center; break-inside: avoid;}
figure img {max-width: 100%; height: auto; max-height: 15cm;}
figcaption {font-size: 10pt; color: #555; margin-top: 0.4em; text-align: left;}
@page {margin: 1.6cm;}
@media print {
  body {max-width: none; padding: 0; font-size: 12pt;}
  header {break-after: avoid;}
  .step {break-after: page; page-break-after: always; border: 0; margin: 0; padding: 0;}
  .step:last-of-type {break-after: auto; page-break-after: auto;}
  figure img {max-height: 14cm;}
}
"""


def handout_html(steps: Sequence[LessonStep], lang: str = "en", subtitle: str = "") -> str:
    """The steps as one self-contained, printable HTML document (one `<section class="step">` each)."""
    n = len(steps)
    code = "zh-Hans" if lang == "zh" else "en"
    title = lt("ho_title", lang)
    sections = [_section(step, i, n, lang) for i, step in enumerate(steps, 1)]
    sub = f"<p>{html.escape(subtitle)}</p>" if subtitle else ""
    return (f'<!doctype html>\n<html lang="{code}">\n<head>\n<meta charset="utf-8">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{html.escape(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
            f"<header><h1>{html.escape(title)}</h1>{sub}<p>{html.escape(lt('ho_made', lang))}</p></header>\n"
            + "\n".join(sections) + "\n</body>\n</html>\n")


def lesson_handout(result: Analysis, loaded: LoadedModel, lang: str = "en") -> tuple[str, int]:
    """The lesson of `result` on `loaded` as the handout page → (html, number of steps); the CLI's
    `--handout` and the app's download both write this."""
    steps = lesson_steps(result, loaded, lang)
    info = result.info
    subtitle = f"{info.name} · {info.input_size[1]}×{info.input_size[2]} · {info.num_tokens} tokens"
    return handout_html(steps, lang, subtitle), len(steps)


def _section(step: LessonStep, i: int, n: int, lang: str) -> str:
    figure = ""
    if step.figure is not None:
        alt = html.escape(step.alt, quote=True)
        figure = (f'<figure><img src="{figure_url(step.figure)}" alt="{alt}">'
                  f"<figcaption>{html.escape(step.alt)}</figcaption></figure>")
    return (f'<section class="step" id="step-{i}" data-key="{step.key}">'
            f'<span class="n">{html.escape(lt("ho_step", lang, i=i, n=n))}</span>'
            f'<h2><span class="num">{i}</span>{html.escape(step.title)}</h2>'
            f'<div class="body">{body_html(step.body)}</div>{figure}</section>')
