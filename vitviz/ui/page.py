"""What the sections share: the per-tab `Session`, the `ViewSettings` read from the page's
controls, the process-wide model cache, and `Page.listen`, which wires a module-level handler
`handler(settings, session, *extra) -> {component name: value}` to gradio.
"""
from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path
from typing import Any, Callable, Mapping, NamedTuple

import gradio as gr
import numpy as np
from PIL import Image
import torch

import vitviz
from vitviz.core.model import is_embedded
from vitviz.core.model_cache import ModelCache
from vitviz.ui.gradio_fixes import save_png_atomically
from vitviz.views import pictures as V
from vitviz.views.text import tr

MODELS = ModelCache()
# Per-tab state keeps the attention in half precision: ViT-B/16's (12, 12, 197, 197) stack is
# 11 MB instead of 22 MB; every map computed at analysis time is still float32-exact.
SESSION_ATTENTION_DTYPE = torch.float16
# A forward pass longer than this is stopped (between blocks) so one request cannot hold a worker.
REQUEST_TIME_LIMIT_S = 120.0
SETTINGS = ("lang", "patch", "view")  # the components ViewSettings reads
REDRAW = dict(api_visibility="private", trigger_mode="always_last", show_progress="hidden")  # no model run
PRIVATE = dict(api_visibility="private")
Outputs = dict  # {component name: value or gr.update(...)}, as handlers return it
IMG = dict(interactive=False, format="png", elem_classes="vv-img")  # every output picture


@dataclasses.dataclass
class Session:
    """What one browser tab keeps between events."""

    analysis: vitviz.Analysis | None = None
    model_key: tuple[str, bool] | None = None
    source: Mapping[str, str] = dataclasses.field(default_factory=dict)  # {lang: where the weights came from}
    image_path: str | None = None
    tab: str = ""  # gradio's session hash of the tab (set by Page.listen on every event)


_REVISIONS = itertools.count(1)


def revision(kind: str) -> tuple[int, str]:
    """A new value for the page's `revision` state: the sections re-draw ("all") or re-word ("texts")."""
    return next(_REVISIONS), kind


def settings(lang=None, patch=None, view=None) -> V.ViewSettings:
    """The view settings from the language, the patch state and the view state (the explorers'
    last reported selection: layer (0-based), head, query, fusion, discard)."""
    view = view or {}
    return V.ViewSettings(lang=lang or "en", layer=max(0, int(view.get("layer") or 0)), head=int(view.get("head") or 0),
                          patch=tuple(patch) if patch else (0, 0), query=view.get("query") or "patch",
                          fusion=view.get("fusion") or "mean", discard=float(view.get("discard") or 0.0))


VIEW_KEYS = ("layer", "head", "query", "fusion", "discard")


def view_state(s: V.ViewSettings, selection: Mapping | None = None) -> dict:
    """The view state: `s`'s layer, head, query, fusion and discard, overridden by what an
    explorer reported (`selection`, only known keys)."""
    state = {key: getattr(s, key) for key in VIEW_KEYS}
    state.update({k: v for k, v in (selection or {}).items() if k in VIEW_KEYS})
    return state


def explored(s: V.ViewSettings, report: Mapping) -> V.ViewSettings:
    """`s` with an explorer's reported selection (view keys and the pinned patch) applied."""
    selection = report.get("selection") or {}
    patch = selection.get("patch")
    return settings(s.lang, patch if patch else s.patch, view_state(s, selection))


def clamp(a: vitviz.Analysis, s: V.ViewSettings) -> V.ViewSettings:
    gh, gw = a.info.grid
    patch = (min(max(s.patch[0], 0), gh - 1), min(max(s.patch[1], 0), gw - 1))
    query = s.query if s.query in a.info.prefix_names else "patch"
    return dataclasses.replace(s, layer=min(s.layer, a.info.depth - 1), head=min(s.head, a.info.num_heads - 1),
                               patch=patch, query=query)


def prepare(s: V.ViewSettings, sess: Session | None) -> tuple[Session, V.ViewSettings]:
    """(session, settings clamped to its analysis); an empty Session before the first event."""
    sess = sess or Session()
    return sess, (clamp(sess.analysis, s) if sess.analysis is not None else s)


def clicked(s: V.ViewSettings, sess: Session | None, index) -> V.ViewSettings | None:
    """The settings with the patch under a click at display pixel `index` (None: nothing to select)."""
    if sess is None or sess.analysis is None or index is None:
        return None
    return clamp(sess.analysis, dataclasses.replace(s, patch=V.patch_at_display_pixel(sess.analysis, *index[:2])))


def model_of(sess: Session) -> vitviz.LoadedModel:
    return MODELS.get(*sess.model_key)


def is_random(sess: Session) -> bool:
    return bool(sess.model_key) and not sess.model_key[1] and not is_embedded(sess.model_key[0])


def info_of(sess: Session) -> vitviz.ModelInfo | None:
    """The model geometry the texts describe: the analysed model's, else the loaded model's."""
    if sess.analysis is not None:
        return sess.analysis.info
    return model_of(sess).info if sess.model_key is not None else None


def translated(lang: str, labels: Mapping[str, str] = {}, buttons: Mapping[str, str] = {},
               fixed: Mapping[str, str] = {}) -> Outputs:
    """Component labels, button captions and fixed Markdown ({name: text key}) in `lang`."""
    out: Outputs = {name: gr.update(label=tr(key, lang)) for name, key in labels.items()}
    out.update({name: gr.update(value=tr(key, lang)) for name, key in buttons.items()})
    out.update({name: tr(key, lang) for name, key in fixed.items()})
    return out


def _is_update(value) -> bool:
    return isinstance(value, dict) and value.get("__type__") == "update"


def redrawn(out: Outputs, pictures: Outputs) -> Outputs:
    """`out` (e.g. translated labels) with `pictures` written in, in place: a component gets one
    value per event, so a new picture for a component whose label `out` translates carries both."""
    for name, value in pictures.items():
        old = out.get(name)
        if _is_update(old):
            value = {**old, **value} if _is_update(value) else {**old, "value": value}
        out[name] = value
    return out


def alt_text(label_key: str, lang: str, sess: Session | None) -> str:
    """A picture's alt text: its label (what it shows), then the model and the image it is of."""
    info = info_of(sess) if sess is not None else None
    gh, gw = info.grid if info is not None else ("?", "?")
    try:
        label = tr(label_key, lang, gh=gh, gw=gw)
    except (KeyError, IndexError):  # a label with other placeholders: its words are enough
        label = tr(label_key, lang)
    if info is None:
        return label
    image = Path(sess.image_path).name if sess.image_path else "—"
    return tr("alt_picture", lang, label=label, model=info.name, image=image, gh=gh, gw=gw)


def section_texts(s: V.ViewSettings, sess: Session | None, labels: Mapping[str, str] = {},
                  buttons: Mapping[str, str] = {}, fixed: Mapping[str, str] = {}):
    """(session, settings, the section's `translated` texts, the model info or None): what a
    section's `texts` handler starts from."""
    sess, s = prepare(s, sess)
    return sess, s, translated(s.lang, labels, buttons, fixed), info_of(sess)


def section(name: str) -> gr.Column:
    """The column of one numbered section (its top border, its id for tests and screenshots)."""
    return gr.Column(elem_classes="vv-section", elem_id=f"vv-sec-{name}")


class Follower(NamedTuple):
    """A section kept in step with the page (`Page.follow`)."""

    outputs: Mapping[str, Any]
    texts: Callable[..., Outputs]
    pictures: Callable[..., Outputs] | None
    slow: bool


@dataclasses.dataclass
class Page:
    """The components handlers of several sections read: the view controls (`SETTINGS`), the
    per-tab states and the images a click on which selects a patch. Sections fill it in as they
    are built (in page order); their handlers are wired once every section exists."""

    lang: Any = None
    patch: Any = None  # gr.State: [row, col] of the selected patch
    view: Any = None  # gr.State: the explorers' selection (see `view_state`)
    session: Any = None  # gr.State: Session
    revision: Any = None  # gr.State: (counter, "all" | "texts"), set when the sections must re-draw
    patch_images: list = dataclasses.field(default_factory=list)
    explorers: dict = dataclasses.field(default_factory=dict)  # mode → gr.HTML explorer
    pictures: dict = dataclasses.field(default_factory=dict)  # gr.Image → its label's text key (alt text)
    followers: list[Follower] = dataclasses.field(default_factory=list)  # one per section (`follow`)

    def name_pictures(self, components: Mapping[str, Any], labels: Mapping[str, str]) -> None:
        """Remember the label key of every picture of a section: its alt text is built from it."""
        self.pictures.update({c: labels[n] for n, c in components.items() if isinstance(c, gr.Image) and n in labels})

    def settings(self, values: Mapping) -> V.ViewSettings:
        """The one place the controls' values become a ViewSettings."""
        return settings(**{name: values.get(getattr(self, name)) for name in SETTINGS})

    def listen(self, triggers, handler: Callable[..., Outputs], outputs: Mapping[str, Any], extra=(),
               event: str = "plain", **kwargs):
        """Run `handler(settings, session, *extra values)` on `triggers` (gr.on) and write the
        {name: value} it returns into `outputs` ({name: component}). event="select" passes the
        clicked display pixel as third argument, event="explore" an explorer's report ({mode,
        token, selection}), event="progress" a gr.Progress as `progress=`."""
        def args(values, request):
            sess = values[self.session]
            tab = getattr(request, "session_hash", None) or ""
            if sess is not None and sess.tab != tab:
                sess = dataclasses.replace(sess, tab=tab)
            return self.settings(values), sess, *(values[c] for c in extra)

        def named(result: Outputs, s: V.ViewSettings, sess: Session | None) -> dict:
            if not result:  # nothing to change: gradio wants at least one output named
                return {next(iter(outputs.values())): gr.skip()}
            if isinstance(result.get("session"), Session):  # a new analysis: its pictures are of the new image
                sess = result["session"]
            return {outputs[name]: self.described(outputs[name], value, s, sess) for name, value in result.items()}

        if event == "select":
            def fn(values: dict, evt: gr.SelectData, request: gr.Request = None):
                s, sess, *rest = args(values, request)
                return named(handler(s, sess, None if evt is None else evt.index, *rest), s, sess)
        elif event == "explore":
            def fn(values: dict, evt: gr.SelectData, request: gr.Request = None):
                s, sess, *rest = args(values, request)
                report = evt.value if evt is not None and isinstance(evt.value, dict) else {}
                return named(handler(s, sess, report, *rest), s, sess)
        elif event == "progress":
            def fn(values: dict, request: gr.Request = None, progress=gr.Progress()):
                s, sess, *rest = args(values, request)
                return named(handler(s, sess, *rest, progress=progress), s, sess)
        else:
            def fn(values: dict, request: gr.Request = None):
                s, sess, *rest = args(values, request)
                return named(handler(s, sess, *rest), s, sess)
        named_fn = getattr(handler, "func", handler)  # a functools.partial names its function
        fn.__name__ = fn.__qualname__ = getattr(named_fn, "__name__", "handler")
        inputs = {getattr(self, name) for name in SETTINGS} | {self.session, *extra}
        return gr.on(triggers, fn, inputs=inputs, outputs=list(outputs.values()), **kwargs)

    def described(self, component: Any, value: Any, s: V.ViewSettings, sess: Session | None) -> Any:
        """A new picture for `component` with its alt text: what it shows (its label) for this model
        and image, in the page's language (gradio leaves pictures without alt text otherwise)."""
        picture = value.get("value") if _is_update(value) else value
        if not isinstance(picture, np.ndarray) or component not in self.pictures:
            return value
        alt = alt_text(self.pictures[component], s.lang, sess)
        # An update is drawn by a fresh gr.Image that gradio builds from the constructor's arguments
        # (its postprocess, not this instance's): hand it the finished file.
        saved = save_png_atomically(Image.fromarray(picture), component.GRADIO_CACHE)
        return {**value, "value": saved, "alt_text": alt} if _is_update(value) else gr.update(value=saved, alt_text=alt)

    def follow(self, outputs: Mapping[str, Any], texts: Callable[..., Outputs],
               pictures: Callable[..., Outputs] | None = None, slow: bool = False) -> None:
        """Keep a section in step with the page: `texts(settings, session)` when the language
        changes or a new model is loaded, plus `pictures(settings, session)` for a new analysis.
        Wired by `wire_followers` once every section has said what it follows: the sections share
        one event, except `slow` ones (their pictures take a second or more), which get their own
        so the others' pictures need not wait for them."""
        self.followers.append(Follower(outputs, texts, pictures, slow))

    def wire_followers(self) -> None:
        """Few events on a new revision or language, not one per section: gradio's page does work
        for every component on every status message of every event (a profile of an upload: 1.9 s of
        the tab's main thread with one event per section, 0.5 s with three), and that work delays the
        explorers' first view (benchmarks/RESULTS.md, "Browser")."""
        quick = [f for f in self.followers if not f.slow]
        for group in [quick] + [[f] for f in self.followers if f.slow]:
            self._follow_together(group)

    def _follow_together(self, followers: list[Follower]) -> None:
        outputs = {f"{i}:{name}": c for i, f in enumerate(followers) for name, c in f.outputs.items()}

        def each(s: V.ViewSettings, sess: Session | None, draw: bool) -> Outputs:
            result: Outputs = {}
            for i, f in enumerate(followers):
                out = f.texts(s, sess)
                if draw and f.pictures is not None:
                    redrawn(out, f.pictures(s, sess))
                result.update({f"{i}:{name}": value for name, value in out.items()})
            return result

        def on_revision(s: V.ViewSettings, sess: Session | None, rev) -> Outputs:
            sess, s = prepare(s, sess)
            return each(s, sess, rev[1] == "all" and sess.analysis is not None)

        def on_language(s: V.ViewSettings, sess: Session | None) -> Outputs:
            sess, s = prepare(s, sess)
            return each(s, sess, False)

        self.listen([self.revision.change], on_revision, outputs, extra=(self.revision,), **PRIVATE)
        self.listen([self.lang.input], on_language, outputs, api_visibility="private", show_progress="hidden")
