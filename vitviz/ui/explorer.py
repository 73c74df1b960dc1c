"""The explorer component: a `gr.HTML` whose script (`explorer.js`) draws attention and rollout
in the browser, and the server function it fetches its data through.

The component's value is {mode, token, texts, selection} and, when it comes with the analysis
itself, `inline`: the parts the first view needs (`vitviz.views.explorer.first_parts`, in their
raw form that the browser decodes synchronously), so the explorer draws as soon as the analysis'
answer lands instead of queueing behind the other sections' pictures. Every other part (the remaining layers) the browser fetches with
`server.explorer_data(token, part)`. The token is random (256
bits), sent only to the tab that owns the analysis, and revoked when that tab analyses another
image; the registry holds weak references, so when gradio drops a tab's state its analysis goes.
"""
from __future__ import annotations

import secrets
import threading
import weakref

import gradio as gr

import vitviz
from vitviz.views import explorer as X
from vitviz.views.common import ViewSettings

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
MODES = ("attention", "rollout")


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
    return gr.HTML(value=empty_value(mode, "en"), html_template="", css_template=X.CSS, js_on_load=X.SCRIPT,
                   server_functions=[explorer_data], elem_id=elem_id, elem_classes="vv-explorer", padding=False)


def empty_value(mode: str, lang: str) -> dict:
    return {"mode": mode, "token": None, "texts": X.explorer_texts(lang), "selection": {}}


def value(mode: str, s: ViewSettings, tab: str, analysis: vitviz.Analysis | None, inline: bool = False) -> dict:
    """The component's value for this tab's analysis and view settings (with `inline`, the
    first view's data inside it)."""
    if analysis is None or not tab:
        return empty_value(mode, s.lang)
    selection = {"layer": s.layer, "head": s.head, "query": s.query, "patch": list(s.patch), "fusion": s.fusion,
                 "discard": s.discard}
    out = {"mode": mode, "token": STORE.register(tab, analysis), "texts": X.explorer_texts(s.lang),
           "selection": selection}
    if inline:
        out["inline"] = {part: X.explorer_part(analysis, part, first_view=True) for part in X.first_parts(mode, s.layer)}
    return out


def forget_tab(request: gr.Request) -> None:
    """The tab closed (gradio's `unload`): revoke its token at once."""
    STORE.forget(getattr(request, "session_hash", None) or "")
