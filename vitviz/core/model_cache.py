"""A small process-wide LRU of loaded models, shared by every user of the app (no gradio here)."""
from __future__ import annotations

import threading
from collections import OrderedDict

from vitviz.core.model import LoadedModel, is_embedded, load_model

MODEL_CACHE_SIZE = 3


class ModelCache:
    """A small process-wide LRU of loaded models keyed by (name, pretrained).

    Models are read-only at inference (eval mode, no grads, hooks are per call), so one
    instance can serve every user. The cache's lock only guards the dictionary; loading
    holds a per-key lock, so concurrent requests for the same model load it once while
    users of other (cached) models are never blocked by a slow load.
    """

    def __init__(self, size: int = MODEL_CACHE_SIZE):
        self.size = size
        self._lock = threading.Lock()
        self._models: OrderedDict[tuple[str, bool], LoadedModel] = OrderedDict()
        self._loading: dict[tuple[str, bool], threading.Lock] = {}

    @staticmethod
    def key(name: str, pretrained: bool) -> tuple[str, bool]:
        name = (name or "").strip()
        return (name, True) if is_embedded(name) else (name, bool(pretrained))

    def _cached(self, key: tuple[str, bool]) -> LoadedModel | None:
        with self._lock:
            if key in self._models:
                self._models.move_to_end(key)
                return self._models[key]
            return None

    def get(self, name: str, pretrained: bool) -> LoadedModel:
        """The loaded model for (name, pretrained); raises vitviz.ModelLoadError."""
        key = self.key(name, pretrained)
        hit = self._cached(key)
        if hit is not None:
            return hit
        with self._lock:
            key_lock = self._loading.setdefault(key, threading.Lock())
        with key_lock:
            hit = self._cached(key)
            if hit is not None:
                return hit
            try:
                loaded = load_model(key[0], pretrained=key[1])
                with self._lock:
                    self._models[key] = loaded
                    while len(self._models) > self.size:
                        self._models.popitem(last=False)
            finally:
                with self._lock:
                    self._loading.pop(key, None)
            return loaded

    def __contains__(self, key: tuple[str, bool]) -> bool:
        with self._lock:
            return key in self._models
