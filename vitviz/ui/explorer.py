"""The explorer component: a `gr.HTML` whose script (`explorer.js`) draws attention and rollout
in the browser, and the server function it fetches its data through.

The component's value is {mode, token, texts, selection} and, when it comes with the analysis
itself, `inline`: the parts the first view needs (`vitviz.views.explorer.first_parts`, in their
raw form that the browser decodes synchronously), so the explorer draws as soon as the analysis'
answer lands instead of queueing behind the other sections' pictures. The remaining layers the
browser fetches with `server.explorer_data(token, part)`; the token (`vitviz.ui.capabilities`) is
the tab's one capability for its analysis, revoked when the tab analyses another image.
"""
from __future__ import annotations

import gradio as gr

import vitviz
from vitviz.ui.capabilities import CapabilityStore
from vitviz.views import explorer as X
from vitviz.views.common import ViewSettings

STORE: CapabilityStore[vitviz.Analysis] = CapabilityStore()  # one token per tab: its analysis
MODES = ("attention", "rollout")


def explorer_data(args: list) -> dict:
    """[token, part] → that part of the explorer's data (else {"error": …}). The browser's
    `server.explorer_data(token, part)` sends its two arguments as one list."""
    token, part = (list(args) + [None, None])[:2] if isinstance(args, (list, tuple)) else (None, None)
    analysis = STORE.lookup(token)
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
    out = {"mode": mode, "token": STORE.issue(analysis, tab), "texts": X.explorer_texts(s.lang),
           "selection": selection}
    if inline:
        out["inline"] = {part: X.explorer_part(analysis, part, first_view=True) for part in X.first_parts(mode, s.layer)}
    return out


def forget_tab(request: gr.Request) -> None:
    """The tab closed (gradio's `unload`): revoke its token at once."""
    STORE.forget(getattr(request, "session_hash", None) or "")
