"""The explorer component: a `gr.HTML` whose script (`explorer.js`) draws attention and rollout
in the browser, and the server function it fetches its data through.

The component's value is small: {mode, token, texts, selection}. The maps (vitviz.views.explorer)
are fetched by the browser with `server.explorer_data(token, part)`. The token is random (256
bits), sent only to the tab that owns the analysis, and revoked when that tab analyses another
image; the registry holds weak references, so when gradio drops a tab's state its analysis goes.
"""
from __future__ import annotations

import secrets
import threading
import weakref
from pathlib import Path

import gradio as gr

import vitviz
from vitviz.views import explorer as X
from vitviz.views.common import ViewSettings

SCRIPT = Path(__file__).with_name("explorer.js").read_text(encoding="utf-8")
CSS = """
.vvx {display: flex; flex-direction: column; gap: 8px; font-size: 15px; min-width: 0; max-width: 100%;}
.vvx-controls {display: flex; flex-wrap: wrap; gap: 6px 18px; align-items: center;}
.vvx-ctl {display: inline-flex; gap: 6px; align-items: center; min-width: 0; max-width: 100%;}
.vvx-ctl select, .vvx-ctl input, .vvx button {font-size: 15px; min-height: 32px;}
.vvx-ctl select {min-width: 0; max-width: 100%; flex: 0 1 auto; text-overflow: ellipsis;}
.vvx-ctl input[type=range] {width: 150px; min-width: 90px; flex: 0 1 150px;}
.vvx-ctl output {min-width: 2.2em; font-variant-numeric: tabular-nums;}
.vvx-body {display: flex; flex-wrap: wrap; gap: 16px;}
.vvx-main {flex: 1 1 320px; max-width: 448px; min-width: 0;}
.vvx-side {flex: 1 1 300px; min-width: 0; max-width: 560px;}
.vvx-canvas {display: block; width: 100%; max-width: 100%; touch-action: none; cursor: crosshair; border-radius: 4px;}
.vvx-mosaic {display: block; max-width: 100%; height: auto; cursor: pointer;}
.vvx-bar-canvas {display: block; width: 100%; height: 12px; image-rendering: pixelated;}
.vvx-bar-labels {display: flex; justify-content: space-between; font-size: 13px; font-variant-numeric: tabular-nums;}
.vvx-readout {min-height: 4.5em; margin: 4px 0; font-variant-numeric: tabular-nums;}
.vvx-help, .vvx-mosaic-title {font-size: 14px; margin: 2px 0; opacity: 0.85;}
.vvx :focus-visible {outline: 3px solid #1f6feb; outline-offset: 2px;}
.vvx-empty {opacity: 0.8;}
"""


class ExplorerStore:
    """Unguessable tokens for the analyses tabs show: token → weak reference to the analysis.

    A tab holds one token at a time: registering its next analysis revokes the previous one.
    gradio's server functions do not learn which tab calls them, so the token is the
    capability: it only ever travels in the calling tab's own component value.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[str, weakref.ref] = {}
        self._tab_token: dict[str, str] = {}

    def register(self, tab: str, analysis: vitviz.Analysis) -> str:
        """The token of `analysis` for tab `tab` (the same token while the analysis is the same)."""
        with self._lock:
            self._purge()
            token = self._tab_token.get(tab)
            if token is not None:
                if self._tokens[token]() is analysis:
                    return token
                del self._tokens[token]
            token = secrets.token_urlsafe(32)
            self._tokens[token] = weakref.ref(analysis)
            self._tab_token[tab] = token
            return token

    def lookup(self, token: str) -> vitviz.Analysis | None:
        with self._lock:
            ref = self._tokens.get(str(token))
        return None if ref is None else ref()

    def forget(self, tab: str) -> None:
        with self._lock:
            token = self._tab_token.pop(tab, None)
            self._tokens.pop(token, None)

    def _purge(self) -> None:  # analyses gradio has dropped (expired tabs)
        dead = [t for t, ref in self._tokens.items() if ref() is None]
        for t in dead:
            del self._tokens[t]
        self._tab_token = {tab: t for tab, t in self._tab_token.items() if t in self._tokens}


STORE = ExplorerStore()


def explorer_data(args: list) -> dict:
    """[token, part] → that part of the explorer's data (else {"error": …}). The browser's
    `server.explorer_data(token, part)` sends its two arguments as one list."""
    token, part = (list(args) + [None, None])[:2] if isinstance(args, (list, tuple)) else (None, None)
    analysis = STORE.lookup(token or "")
    if analysis is None:
        return {"error": "stale"}
    try:
        return X.explorer_part(analysis, str(part))
    except ValueError as exc:
        return {"error": str(exc)}


def build(mode: str, elem_id: str) -> gr.HTML:
    """An empty explorer ("attention" or "rollout" mode)."""
    return gr.HTML(value=empty_value(mode, "en"), html_template="", css_template=CSS, js_on_load=SCRIPT,
                   server_functions=[explorer_data], elem_id=elem_id, elem_classes="vv-explorer", padding=False)


def empty_value(mode: str, lang: str) -> dict:
    return {"mode": mode, "token": None, "texts": X.explorer_texts(lang), "selection": {}}


def value(mode: str, s: ViewSettings, tab: str, analysis: vitviz.Analysis | None) -> dict:
    """The component's value for this tab's analysis and view settings."""
    if analysis is None or not tab:
        return empty_value(mode, s.lang)
    selection = {"layer": s.layer, "head": s.head, "query": s.query, "patch": list(s.patch), "fusion": s.fusion,
                 "discard": s.discard}
    return {"mode": mode, "token": STORE.register(tab, analysis), "texts": X.explorer_texts(s.lang),
            "selection": selection}


def forget_tab(request: gr.Request) -> None:
    """The tab closed (gradio's `unload`): revoke its token at once."""
    STORE.forget(getattr(request, "session_hash", None) or "")
