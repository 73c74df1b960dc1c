"""How one attention row is computed (the "neuron view", for images).

The hooked forward pass keeps every block's input in `Analysis.tokens`; from block l's input
and that block's own weights we recompute the query of one token and the keys of all tokens
for one head, exactly as timm's `Attention.forward` does:

    x̂ = norm1(x)                         (N, C)
    q, k, v = split(qkv(x̂))               3 × (heads, N, head_dim)
    q, k = q_norm(q), k_norm(k)           (identity for most ViTs)
    scores = (q · scale) · kᵀ             scale = head_dim ** −0.5
    probs  = softmax(scores)              = the attention row of the query token

`query_computation` is what the views use: the same numbers for an `Analysis`, computed on
demand and cached per analysis object (`AnalysisCache`), so the views themselves never run
the model.
"""
from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, TypeVar

import numpy as np
import torch

if TYPE_CHECKING:
    from vitviz.analysis.analyze import Analysis

T = TypeVar("T")


@dataclass(frozen=True)
class AttentionComputation:
    """One head's attention for one query token in one layer (N tokens, d = head_dim)."""

    layer: int
    head: int
    query_token: int
    query: np.ndarray  # (d,) float32: the query vector q of the query token (after q_norm)
    keys: np.ndarray  # (N, d) float32: the key vectors of all tokens (after k_norm)
    values: np.ndarray  # (N, d) float32: the value vectors of all tokens
    scale: float  # the block's scale, head_dim ** -0.5 for timm ViTs
    scores: np.ndarray  # (N,) float32: q·k·scale
    probs: np.ndarray  # (N,) float32: softmax(scores), the attention row
    output: np.ndarray  # (d,) float32: probs @ values, this head's output for the query token

    @property
    def head_dim(self) -> int:
        return int(self.query.shape[0])

    @property
    def entropy(self) -> float:
        """Entropy of the attention row in nats (0: attends to one token; log N: uniform)."""
        p = self.probs.astype(np.float64)
        return float(-(p * np.log(np.clip(p, 1e-12, None))).sum())


def attention_computation(model, tokens: np.ndarray, layer: int, head: int, query_token: int) -> AttentionComputation:
    """Recompute q, k, scores and softmax for one layer/head/query from captured block inputs.

    model: the timm VisionTransformer that produced `tokens`;
    tokens: (L+1, N, C) residual stream (`Analysis.tokens`); tokens[layer] is block `layer`'s input.
    """
    blocks = model.blocks
    if not 0 <= layer < len(blocks):
        raise IndexError(f"layer {layer} is outside 0..{len(blocks) - 1}")
    blk = blocks[layer]
    attn = blk.attn
    heads = int(attn.num_heads)
    if not 0 <= head < heads:
        raise IndexError(f"head {head} is outside 0..{heads - 1}")
    n = tokens.shape[1]
    if not 0 <= query_token < n:
        raise IndexError(f"token {query_token} is outside 0..{n - 1}")
    d = int(attn.head_dim)
    with torch.no_grad():
        x = blk.norm1(torch.from_numpy(np.ascontiguousarray(tokens[layer], dtype=np.float32)))  # N, C
        # Only this head's rows of the qkv projection, laid out as (3, heads, head_dim): one head
        # costs 1/heads of the full projection and gives the same numbers.
        rows = torch.cat([torch.arange(d) + (part * heads + head) * d for part in range(3)])  # 3·d
        bias = attn.qkv.bias[rows] if attn.qkv.bias is not None else None
        q, k, v = torch.nn.functional.linear(x, attn.qkv.weight[rows], bias).reshape(n, 3, d).unbind(1)  # N, d
        qh = attn.q_norm(q)[query_token]  # d
        kh = attn.k_norm(k)  # N, d
        vh = v  # N, d
        scale = float(attn.scale)
        scores = (qh * scale) @ kh.T  # N
        probs = scores.softmax(-1)
        out = probs @ vh
    return AttentionComputation(
        layer=layer, head=head, query_token=query_token,
        query=qh.numpy().copy(), keys=kh.numpy().copy(), values=vh.numpy().copy(), scale=scale,
        scores=scores.numpy().copy(), probs=probs.numpy().copy(), output=out.numpy().copy(),
    )


def attention_scale(model, layer: int) -> float:
    """The attention scale of block `layer` (head_dim ** −0.5 for timm ViTs)."""
    return float(model.blocks[layer].attn.scale)


class AnalysisCache:
    """A small thread-safe LRU of values derived from one `Analysis`, keyed by its identity.

    gradio keeps each tab's Analysis object as is between events, so what depends only on
    the analysis is computed once per image instead of on every interaction. An entry holds
    a weak reference to its analysis, counts only while that same object is alive (an id
    can be reused after an object is freed) and is dropped soon after the analysis is
    freed. Callers must not modify the values.
    """

    def __init__(self, size: int):
        self.size = size
        self._lock = threading.Lock()
        self._items: OrderedDict[tuple[int, str], tuple[weakref.ref, object]] = OrderedDict()
        self._dead: list[tuple[int, str]] = []  # appended to by weakref callbacks (any thread, no lock)

    def get(self, a: "Analysis", name: str, compute: Callable[[], T]) -> T:
        key = (id(a), name)
        with self._lock:
            self._purge()
            hit = self._items.get(key)
            if hit is not None and hit[0]() is a:
                self._items.move_to_end(key)
                return hit[1]  # type: ignore[return-value]
        value = compute()  # outside the lock: other tabs are not held up
        dead = self._dead
        ref = weakref.ref(a, lambda _, key=key: dead.append(key))
        with self._lock:
            self._items[key] = (ref, value)
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return value

    def _purge(self) -> None:
        while self._dead:
            key = self._dead.pop()
            hit = self._items.get(key)
            if hit is not None and hit[0]() is None:
                del self._items[key]

    def __len__(self) -> int:
        with self._lock:
            self._purge()
            return len(self._items)


COMPUTATIONS = AnalysisCache(32)  # per analysis, model, layer, head and query token (~0.1–0.5 MB each)
MEASUREMENTS = AnalysisCache(24)  # per analysis: the depth measurements (a few floats per layer)


def query_computation(model, a: "Analysis", layer: int, head: int, query_token: int) -> AttentionComputation:
    """`attention_computation` for the analysis `a` of `model` (cached per analysis; read-only arrays)."""
    def compute() -> AttentionComputation:
        comp = attention_computation(model, a.tokens, layer, head, query_token)
        for v in (comp.query, comp.keys, comp.values, comp.scores, comp.probs, comp.output):
            v.setflags(write=False)
        return comp

    return COMPUTATIONS.get(a, f"{id(model)}:{layer}:{head}:{query_token}", compute)


def depth_measurements(a: "Analysis") -> tuple[np.ndarray, np.ndarray]:
    """(L+1,) mean token norm and (L,) mean attention entropy through the depth (cached per analysis; read-only)."""
    def compute():
        norms = token_norms(a.tokens)
        ent = attention_entropy(a.attention).mean(-1)
        for v in (norms, ent):
            v.setflags(write=False)
        return norms, ent

    return MEASUREMENTS.get(a, "depth_measurements", compute)


def attention_entropy(attention: np.ndarray) -> np.ndarray:
    """Mean entropy (nats) of every head's attention rows, (L, H, N, N) → (L, H)."""
    p = np.clip(np.asarray(attention, dtype=np.float32), 1e-12, None)
    return -(p * np.log(p)).sum(-1).mean(-1)


def token_norms(tokens: np.ndarray) -> np.ndarray:
    """Mean L2 norm of the residual-stream tokens at every depth, (L+1, N, C) → (L+1,)."""
    return np.linalg.norm(np.asarray(tokens, dtype=np.float32), axis=-1).mean(-1)
