"""How one attention row is computed (the "neuron view", for images).

The hooked forward pass keeps every block's input in `Analysis.tokens`; from block l's input
and that block's own weights we recompute the query of one token and the keys of all tokens
for one head, exactly as timm's `Attention.forward` does:

    x̂ = norm1(x)                         (N, C)
    q, k, v = split(qkv(x̂))               3 × (heads, N, head_dim)
    q, k = q_norm(q), k_norm(k)           (identity for most ViTs)
    scores = (q · scale) · kᵀ             scale = head_dim ** −0.5
    probs  = softmax(scores)              = the attention row of the query token
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


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


def attention_entropy(attention: np.ndarray) -> np.ndarray:
    """Mean entropy (nats) of every head's attention rows, (L, H, N, N) → (L, H)."""
    p = np.clip(np.asarray(attention, dtype=np.float32), 1e-12, None)
    return -(p * np.log(p)).sum(-1).mean(-1)


def token_norms(tokens: np.ndarray) -> np.ndarray:
    """Mean L2 norm of the residual-stream tokens at every depth, (L+1, N, C) → (L+1,)."""
    return np.linalg.norm(np.asarray(tokens, dtype=np.float32), axis=-1).mean(-1)
