"""Unguessable tokens for what one browser tab may fetch through a gradio server function.

gradio's server functions (`server_functions=` of a `gr.HTML`) do not learn which tab calls them, so
a token is the capability: it is sent only inside the calling tab's own component value, and the
store holds weak references, so what gradio drops (an expired tab's state, an evicted cache entry)
is gone from here too.
"""
from __future__ import annotations

import secrets
import threading
import weakref
from typing import Generic, TypeVar

T = TypeVar("T")


class CapabilityStore(Generic[T]):
    """token → weak reference to one object. With `tab`, a tab holds one token at a time:
    issuing for its next object revokes the previous token (the same object keeps its token)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[str, weakref.ref] = {}
        self._tab_token: dict[str, str] = {}

    def issue(self, obj: T, tab: str | None = None) -> str:
        with self._lock:
            self._purge()
            if tab is not None and (token := self._tab_token.get(tab)) is not None:
                if self._tokens[token]() is obj:
                    return token
                del self._tokens[token]
            token = secrets.token_urlsafe(32)  # 256 bits
            self._tokens[token] = weakref.ref(obj)
            if tab is not None:
                self._tab_token[tab] = token
            return token

    def lookup(self, token: object) -> T | None:
        with self._lock:
            ref = self._tokens.get(token) if isinstance(token, str) else None
        return None if ref is None else ref()

    def forget(self, tab: str) -> None:
        """The tab closed: revoke its token at once."""
        with self._lock:
            token = self._tab_token.pop(tab, None)
            self._tokens.pop(token, None)

    def _purge(self) -> None:  # objects gradio has dropped
        self._tokens = {t: ref for t, ref in self._tokens.items() if ref() is not None}
        self._tab_token = {tab: t for tab, t in self._tab_token.items() if t in self._tokens}
