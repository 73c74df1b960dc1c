"""The header, the image/model column and section 1 (input and patches).

Owns the per-tab states: `run` analyses the image (the only forward pass besides relevance and
section 7) and bumps the page's `revision`, on which every other section re-draws itself.
"""
from __future__ import annotations

import dataclasses
import functools
import threading
from pathlib import Path

import gradio as gr

import vitviz
from vitviz import CaptureTimeout, ImageError, ModelLoadError
from vitviz import render as R
from vitviz.core.assets import EXAMPLES
from vitviz.core.model import embedded_models, is_embedded
from vitviz.ui import explorer as E
from vitviz.ui import page as P
from vitviz.ui.gradio_fixes import hand_over_upload_untouched
from vitviz.ui.page import MODELS, Outputs, Session
from vitviz.views import pictures as V
from vitviz.views.provenance import source_sentences
from vitviz.views.text import LANG_CHOICES, tr

EXAMPLES_DIR = EXAMPLES
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp", ".tif", ".tiff")
MAX_EXAMPLES = 36
CURATED_MODELS = (
    "vit_base_patch16_224.augreg2_in21k_ft_in1k",
    "vit_small_patch16_224.augreg_in21k_ft_in1k",
    "deit_tiny_patch16_224.fb_in1k",
    "deit_small_distilled_patch16_224.fb_in1k",
    "vit_small_patch16_224.dino",
    "vit_small_patch14_reg4_dinov2.lvd142m",
    "vit_base_patch32_224.augreg_in21k_ft_in1k",
    "vit_tiny_patch16_224",
)
LABELS = {"lang": "language", "model_dd": "model", "random_cb": "random_weights", "image_in": "image",
          "label": "label", "grid_img": "img_grid_static", "strip_img": "img_strip", "filters_img": "img_filters"}
FIXED = {"title_md": "title", "intro_md": "intro", "filters_expl": "filters_expl"}


def list_examples() -> list[str]:
    """Image files in vitviz/assets/examples/ (and its sub-folders), listed when the app is built."""
    if not EXAMPLES_DIR.is_dir():
        return []
    found = sorted(EXAMPLES_DIR.rglob("*"), key=lambda p: (len(p.relative_to(EXAMPLES_DIR).parts), str(p)))
    return [str(p) for p in found if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES][:MAX_EXAMPLES]


def model_choices() -> list[str]:
    return embedded_models() + list(CURATED_MODELS)


def build(page: P.Page, start, examples: list[str]) -> dict:
    """The header, image and model column and section 1; sets page.lang/session/patch/view/revision."""
    choices = model_choices()
    if start.name not in choices:
        choices = [start.name] + choices
    page.session, page.patch, page.revision = gr.State(Session()), gr.State(None), gr.State((0, ""))
    page.view = gr.State({})
    c: dict = {}
    with gr.Row(equal_height=False):
        with gr.Column(scale=4, min_width=330):
            c["title_md"] = gr.Markdown(tr("title"), elem_classes="vv-title")
        with gr.Column(scale=1, min_width=230):
            c["lang"] = page.lang = gr.Radio(LANG_CHOICES, value="en", label=tr("language"), elem_id="vv-lang")
    c["intro_md"] = gr.Markdown(tr("intro"))
    with gr.Row(equal_height=False):
        with gr.Column(scale=1, min_width=300):
            c["image_in"] = hand_over_upload_untouched(gr.Image(
                type="filepath", label=tr("image"), sources=["upload", "clipboard"], height=300, elem_id="vv-input"))
            c["examples"] = None
            if examples:
                c["examples"] = gr.Examples(examples=[[p] for p in examples], inputs=[c["image_in"]],
                                            label=tr("examples"), examples_per_page=12)
        with gr.Column(scale=1, min_width=300):
            c["model_dd"] = gr.Dropdown(choices=choices, value=start.name, allow_custom_value=True,
                                        label=tr("model"), elem_id="vv-model")
            c["random_cb"] = gr.Checkbox(value=not start.pretrained, label=tr("random_weights"), elem_id="vv-random")
            c["status_md"] = gr.Markdown(tr("status_image"), elem_classes="vv-status", elem_id="vv-status")
            c["label"] = gr.Label(num_top_classes=5, label=tr("label"), elem_id="vv-label")

    with P.section("input"):
        c["a_md"] = gr.Markdown(tr("sec_a"))
        with gr.Row(equal_height=False):
            c["grid_img"] = gr.Image(label=tr("img_grid_static"), elem_id="vv-grid",
                                     buttons=["download", "fullscreen"], **P.IMG)
            with gr.Column():
                c["strip_img"] = gr.Image(label=tr("img_strip"), elem_id="vv-strip",
                                          buttons=["download", "fullscreen"], **P.IMG)
                c["patch_md"] = gr.Markdown("", elem_id="vv-patch")
        with gr.Row(equal_height=False):
            c["shapes_md"] = gr.Markdown("", elem_id="vv-shapes")
            with gr.Column():
                c["filters_img"] = gr.Image(label=tr("img_filters"), elem_id="vv-filters", buttons=["download"], **P.IMG)
                c["filters_expl"] = gr.Markdown(tr("filters_expl"))
    page.patch_images.append(c["grid_img"])
    return c


def status_text(sess: Session, lang: str) -> str:
    if sess.model_key is None:
        return tr("status_image", lang)
    text = tr("status", lang, source=sess.source.get(lang) or sess.source.get("en", ""))
    a = sess.analysis
    if a is not None:
        _, h, w = a.info.input_size
        text += "  \n" + tr("analysed", lang, model=a.info.name, h=h, w=w, tokens=a.info.num_tokens,
                             depth=a.info.depth, heads=a.info.num_heads)
        if a.notes:
            text += "  \n" + " ".join(f"ℹ️ {n}" for n in a.notes)
    else:
        text += "  \n" + tr("status_image", lang)
    if R.figure_lang(lang) != lang:  # 中文 without a CJK font: say once, here, why the figures are English
        text += "  \n" + tr("status_no_cjk_font", lang)
    return text


def patch_text(a: vitviz.Analysis, s: V.ViewSettings) -> str:
    token = a.grid.token_index(*s.patch)
    return tr("selected_patch", s.lang, row=s.patch[0], col=s.patch[1], token=token, n=a.info.num_tokens)


def grid_label(info: vitviz.ModelInfo, lang: str) -> dict:
    return dict(label=tr("img_grid", lang, gh=info.grid[0], gw=info.grid[1]))


def texts(s: V.ViewSettings, sess: Session | None) -> Outputs:
    """Every language-dependent text of the header and section 1, for the current model."""
    sess, s, out, info = P.section_texts(s, sess, LABELS, fixed=FIXED)
    out["status_md"] = status_text(sess, s.lang)
    if info is not None:
        out["a_md"] = V.input_text(info, s.lang)
        out["shapes_md"] = V.shape_table(info, s.lang)
        out["grid_img"] = gr.update(**grid_label(info, s.lang))
    if sess.analysis is not None:
        out["patch_md"] = patch_text(sess.analysis, s)
    return out


def everything(s: V.ViewSettings, sess: Session) -> Outputs:
    """Texts and pictures of the header and section 1 for a new analysis (and the patch state)."""
    a = sess.analysis
    sess, s = P.prepare(s, sess)
    out = texts(s, sess)
    out.update({"grid_img": gr.update(value=V.grid_image(a, s.patch), **grid_label(a.info, s.lang)),
                "patch_md": patch_text(a, s), "strip_img": V.strip_image(a), "filters_img": V.filters_image(a),
                "label": V.prediction_label(a) or None, "patch_state": list(s.patch)})
    return out


def _load(s: V.ViewSettings, sess: Session, key: tuple[str, bool], progress) -> tuple[Session, Outputs | None]:
    """(session for model `key`, None) or, when it fails to load, (old session, outputs that say so)."""
    if key != sess.model_key or sess.analysis is None:
        if key not in MODELS:
            progress(0.05, desc=tr("loading", s.lang, name=key[0]))
        try:
            loaded = MODELS.get(*key)
        except ModelLoadError as exc:
            gr.Warning(tr("model_failed", s.lang, msg=str(exc)), duration=12)
            if sess.model_key is None:
                return sess, {"status_md": status_text(sess, s.lang)}
            # Put the controls back to the model that stays loaded.
            prev_name, prev_pretrained = sess.model_key
            return sess, {"model_dd": prev_name, "random_cb": not prev_pretrained and not is_embedded(prev_name),
                          "status_md": status_text(sess, s.lang)}
        if key != sess.model_key:
            return Session(model_key=key, source=source_sentences(loaded), image_path=sess.image_path, tab=sess.tab), None
    return dataclasses.replace(sess), None


class LastRuns:
    """The (image, model) each tab last asked to analyse. gradio reports one upload as two changes
    of the same file, and with two workers both would run the model at once; upload paths are
    content-addressed, so the same path is the same image and the second change has nothing to do."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last: dict[str, tuple] = {}

    def first(self, tab: str, request: tuple) -> bool:
        """Whether `request` differs from tab `tab`'s previous one (and remember it). Untracked
        without a tab (direct calls)."""
        if not tab:
            return True
        with self._lock:
            if self._last.get(tab) == request:
                return False
            self._last[tab] = request
            return True

    def forget(self, tab: str) -> None:
        with self._lock:
            self._last.pop(tab, None)


RUNS = LastRuns()


def run(s: V.ViewSettings, sess: Session | None, image_path, model_name, random_w, progress=None) -> Outputs:
    """Load the model if it changed, run the forward pass once, draw this section and bump the
    revision (the other sections draw themselves from the new session)."""
    progress = progress or (lambda *a, **k: None)
    sess = sess or Session()
    key = MODELS.key(model_name, not random_w)
    if image_path and not RUNS.first(sess.tab, (image_path, key)):
        return {}  # the same image and model as this tab's last run: analysed (or being analysed) already
    loading = key not in MODELS  # a model load is slow: say what happens, step by step
    new, failed = _load(s, sess, key, progress)
    if failed is not None:
        RUNS.forget(sess.tab)  # trying again may work (a hub download)
        return failed
    if image_path:
        if loading:  # else no message: each costs the tab ~0.1 s of gradio's status work (RESULTS.md)
            progress(0.4, desc=tr("running", s.lang))
        try:
            a = vitviz.analyze(MODELS.get(*key), image_path, fusion=s.fusion, discard_ratio=s.discard,
                               attention_dtype=P.SESSION_ATTENTION_DTYPE, time_limit=P.REQUEST_TIME_LIMIT_S)
        except (ImageError, CaptureTimeout) as exc:
            RUNS.forget(sess.tab)
            gr.Warning(tr("bad_image", s.lang, msg=str(exc)), duration=12)
            out = dict(texts(s, new), revision=P.revision("texts")) if new.analysis is not None or new.model_key else {}
            out.update({"session": new, "status_md": status_text(new, s.lang)})
            return out
        if a.info != (sess.analysis.info if sess.analysis else None):
            s = dataclasses.replace(s, patch=V.default_patch(a.info))
        new = dataclasses.replace(new, analysis=a, image_path=image_path)
    elif new.model_key == sess.model_key:
        return {"status_md": status_text(sess, s.lang)}
    if new.analysis is None:
        return dict(texts(s, new), session=new, revision=P.revision("texts"))
    # The explorers' first view travels with this answer: they draw before the other sections'.
    explorers = {f"explorer:{mode}": E.value(mode, s, new.tab, new.analysis, inline=True) for mode in E.MODES}
    return dict(everything(s, new), **explorers, session=new, revision=P.revision("all"))


def forget_tab(request: gr.Request) -> None:
    """The tab closed (gradio's `unload`)."""
    RUNS.forget(getattr(request, "session_hash", None) or "")


def first_example(model_name: str, examples: list[str]) -> str:
    """The example the page opens with: one of the embedded model's own kind ("vitviz-fashion" →
    fashion_*), else the cat photo."""
    kind = model_name.removeprefix("vitviz-") + "_" if is_embedded(model_name) else None
    own = [p for p in examples if kind and Path(p).name.startswith(kind)]
    return (own or [p for p in examples if "cat" in Path(p).name] or examples)[0]


def on_load(s: V.ViewSettings, sess: Session | None, model_name, random_w, start=None, examples=()) -> Outputs:
    """Page load: the default model's texts (saying why it was picked), then the first example."""
    out: Outputs = {}
    try:
        loaded = MODELS.get(model_name, not random_w)
        sess = Session(model_key=MODELS.key(model_name, not random_w), source=source_sentences(loaded))
        if start is not None and (model_name, bool(random_w)) == (start.name, not start.pretrained):
            # the start-up model says why it was chosen for as long as it stays loaded
            sess = dataclasses.replace(sess, source=source_sentences(loaded, start))
        out.update(texts(s, sess), session=sess, revision=P.revision("texts"), status_md=status_text(sess, s.lang))
    except ModelLoadError as exc:
        out["status_md"] = str(exc)
    if examples:
        out["image_in"] = first_example(model_name, examples)
    return out


def on_patch_select(s: V.ViewSettings, sess: Session | None, index) -> Outputs:
    """A click on a picture of the patch grid: select the patch under it."""
    s = P.clicked(s, sess, index)
    if s is None:
        return {}
    a = sess.analysis
    return {"grid_img": V.grid_image(a, s.patch), "patch_md": patch_text(a, s), "patch_state": list(s.patch)}


def on_explore(s: V.ViewSettings, sess: Session | None, report: dict) -> Outputs:
    """The explorer pinned a patch: select it here too (other reports change nothing here)."""
    pinned = P.explored(s, report)
    if sess is None or sess.analysis is None or pinned.patch == s.patch:
        return {}
    a, pinned = sess.analysis, P.clamp(sess.analysis, pinned)
    return {"grid_img": V.grid_image(a, pinned.patch), "patch_md": patch_text(a, pinned),
            "patch_state": list(pinned.patch)}


def wire(page: P.Page, c: dict, demo: gr.Blocks, start, examples: list[str]) -> None:
    outputs = {k: v for k, v in c.items() if k != "examples"}
    outputs.update(session=page.session, patch_state=page.patch, revision=page.revision)
    explorers = {f"explorer:{mode}": explorer for mode, explorer in page.explorers.items()}
    page.listen([c["image_in"].change, c["model_dd"].input, c["random_cb"].input], run, dict(outputs, **explorers),
                extra=(c["image_in"], c["model_dd"], c["random_cb"]), event="progress",
                api_visibility="private", trigger_mode="always_last",
                # the progress bar on the status line only: a loading status on each of the ~20 outputs
                # costs the tab ~0.1 s of gradio's per-component work before the explorer can draw
                show_progress_on=[c["status_md"]])
    page.listen([i.select for i in page.patch_images], on_patch_select, outputs, event="select", **P.REDRAW)
    page.listen([e.select for e in page.explorers.values()], on_explore, outputs, event="explore", **P.REDRAW)
    page.listen([page.lang.input], texts, outputs, api_visibility="private", show_progress="hidden")
    page.listen([demo.load], functools.partial(on_load, start=start, examples=examples), outputs,
                extra=(c["model_dd"], c["random_cb"]), api_visibility="private")
