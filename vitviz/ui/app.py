"""The vitviz Gradio app: one section per stage of a ViT's forward pass (vitviz/ui/sections/).

UI wiring only: the maths lives in `vitviz.analysis`, the pictures and texts in `vitviz.views`.

Running the model happens only when the image or the model changes (and for class-specific
relevance and section 7). Every other control re-draws from the `Analysis` kept per browser tab
in `gr.State`.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path

import gradio as gr

from vitviz.analysis import offline_default
from vitviz.core.model import choose_default_model
from vitviz.ui import api
from vitviz.ui.explorer import forget_tab
from vitviz.ui.gradio_fixes import delete_cache, guard_cache_cleanup, serve_outputs_atomically
from vitviz.ui.page import MODELS, Page
from vitviz.ui.sections import ablation, attention, export, lesson, position, prediction, residual, rollout, trust
from vitviz.ui.sections import input as input_section

MAX_FILE_SIZE = "25mb"  # the same limit vitviz.core.images enforces
QUEUE_SIZE = 32
CONCURRENCY = 2
EXPLORER_SECTIONS = (attention, rollout)
SECTIONS = (lesson, position, attention, rollout, prediction, residual, ablation, export, trust)  # below the input section, in page order

CSS = """
.vv-title h1 {margin-bottom: 0.2em;}
.vv-img img {object-fit: contain;}
.vv-img label[data-testid="block-label"] {position: static !important; display: inline-flex; margin: 4px 0 6px 4px;
  white-space: normal; max-width: calc(100% - 70px);}
.vv-section {border-top: 1px solid var(--border-color-primary); padding-top: 0.6em; margin-top: 0.4em;}
.vv-status {font-size: 0.95em;}
footer .show-api, footer .built-with, footer .settings {color: #4b5563 !important;}  /* AA contrast */
@media (max-width: 640px) { .vv-hide-mobile {display: none;} .prose table {font-size: 0.8em;} }
"""


def build_demo() -> gr.Blocks:
    """The page: the input section, sections 2-7, the hidden API; then every section's handlers."""
    start = choose_default_model(rank_offline=lambda names: offline_default.choose(names, lambda n: MODELS.get(n, True)))
    examples = input_section.list_examples()
    guard_cache_cleanup()
    with gr.Blocks(title="vitviz: inside a Vision Transformer", fill_width=False, delete_cache=delete_cache(),
                   analytics_enabled=False) as demo:
        page = Page()
        top = input_section.build(page, start, examples)
        parts = [(section, section.build(page)) for section in SECTIONS]
        api.build(start.name)
        input_section.wire(page, top, demo, start, examples)
        # The explorers' handlers are queued first after an analysis: they are what a user touches
        # first, and the other sections' pictures (the lesson's above all) take longer to draw.
        for section, components in sorted(parts, key=lambda p: p[0] not in EXPLORER_SECTIONS):
            section.wire(page, components)
        page.wire_followers()
        for section, components in [(input_section, top), *parts]:
            page.name_pictures(components, getattr(section, "LABELS", {}))
        demo.unload(forget_tab)
        demo.unload(input_section.forget_tab)
    for block in demo.blocks.values():
        if isinstance(block, gr.Image) and block is not top["image_in"]:
            serve_outputs_atomically(block)
    demo.vitviz_examples_block = top["examples"]  # for tests / introspection
    demo.vitviz_page = page
    demo.vitviz_sections = {"input": top} | {s.__name__.rsplit(".", 1)[-1]: c for s, c in parts}
    return demo


# gradio's Soft theme with its indigo text one step darker: primary_500 on primary_100 is 3.6:1,
# below WCAG AA's 4.5:1 for normal text (axe-core's color-contrast rule); primary_700 passes.
THEME_FIXES = dict(block_label_text_color="*primary_700", block_title_text_color="*primary_700",
                   button_primary_background_fill="*primary_700", button_primary_background_fill_hover="*primary_600",
                   checkbox_label_background_fill_selected="*primary_700")
ACCESSIBILITY_SCRIPT = (Path(__file__).with_name("accessibility.js")).read_text(encoding="utf-8")


def theme() -> gr.themes.Theme:
    return gr.themes.Soft().set(**THEME_FIXES)


def launch_kwargs() -> dict:
    """Keyword arguments for `demo.launch` (styling, the accessibility script and limits; the
    caller adds host/port)."""
    return dict(css=CSS, theme=theme(), head=f"<script>{ACCESSIBILITY_SCRIPT}</script>", max_file_size=MAX_FILE_SIZE,
                show_error=True)


def configure_queue(demo: gr.Blocks) -> gr.Blocks:
    """gradio's queue: QUEUE_SIZE waiting requests, CONCURRENCY workers (VITVIZ_CONCURRENCY overrides)."""
    workers = int(os.environ.get("VITVIZ_CONCURRENCY") or CONCURRENCY)
    return demo.queue(max_size=QUEUE_SIZE, default_concurrency_limit=workers)


def main() -> None:
    from vitviz.core.runtime import return_large_buffers_to_os

    logging.basicConfig(level=logging.INFO)
    return_large_buffers_to_os()  # a long-running server: give big attention buffers back to the OS
    demo = configure_queue(build_demo())
    port = int(os.environ.get("GRADIO_SERVER_PORT") or os.environ.get("PORT") or 7860)
    on_space = bool(os.environ.get("SPACE_ID"))
    host = os.environ.get("GRADIO_SERVER_NAME") or ("0.0.0.0" if on_space else "127.0.0.1")
    demo.launch(server_name=host, server_port=port, **launch_kwargs())


if __name__ == "__main__":
    main()
