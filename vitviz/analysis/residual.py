"""Reading the residual stream after every block: the logit lens and token norms.

The logit lens (nostalgebraist 2020, for vision e.g. ViT-Prisma) passes the readout token after
block l through the model's own final norm and head, as if the network stopped there: the
prediction forming through the depth. Token norms show the high-norm "artifact" tokens that
large ViTs grow in low-information patches (Darcet, Oquab, Mairal & Bojanowski 2024, "Vision
Transformers Need Registers"), which register tokens take over.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from vitviz.core.model import ModelInfo

# A token is flagged when its norm is this many times its layer's median patch-token norm
# (Darcet et al. report artifact norms roughly 10× the rest; 4× separates them with margin).
HIGH_NORM_FACTOR = 4.0


@dataclass(frozen=True)
class LogitLens:
    """L blocks, K classes, (gh, gw) patch grid."""

    logits: np.ndarray  # (L, K): the readout after block l → final norm → head
    patch_probability: np.ndarray  # (L, gh, gw): each patch token's probability of `final_class`
    patch_top: np.ndarray  # (L, gh, gw) int: each patch token's own top class
    final_class: int  # the model's answer (top class of the last row)

    @property
    def probabilities(self) -> np.ndarray:
        """(L, K) softmax of `logits`."""
        z = self.logits - self.logits.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    @property
    def first_lead(self) -> int:
        """The first block (1-based) from which the final answer is the top class at every later block."""
        leads = self.logits.argmax(axis=1) == self.final_class
        block = len(leads)
        while block > 1 and leads[block - 2]:
            block -= 1
        return block


def has_head(model: nn.Module, info: ModelInfo) -> bool:
    return info.num_classes > 0 and not isinstance(getattr(model, "head", None), nn.Identity)


@torch.no_grad()
def logit_lens(model: nn.Module, tokens: Tensor, info: ModelInfo) -> LogitLens | None:
    """The logit lens of a residual stream `tokens` (L+1, N, C) (entering block 1, then after
    each block) through the model's final norm and head; None for a model without a head.

    Readout: the model's own `forward_head` (pooling, fc_norm, head) after `norm`, so the last
    row is the model's logits. Patch tokens: `norm`, `fc_norm` and `head` applied to each token.
    """
    if not has_head(model, info):
        return None
    after = tokens[1:].float()  # L, N, C
    normed = model.norm(after)
    logits = model.forward_head(normed)  # L, K
    gh, gw = info.grid
    patches = model.head(model.fc_norm(normed[:, info.num_prefix_tokens:]))  # L, P, K
    final = int(logits[-1].argmax())
    prob = patches.softmax(-1)[..., final]
    return LogitLens(logits=logits.numpy(), patch_probability=prob.reshape(-1, gh, gw).numpy(),
                     patch_top=patches.argmax(-1).reshape(-1, gh, gw).numpy(), final_class=final)


@dataclass(frozen=True)
class TokenNorms:
    norms: np.ndarray  # (L+1, N): ‖token‖₂ entering block 1, then after each block
    num_prefix: int

    @property
    def median_patch_norm(self) -> np.ndarray:
        """(L+1,) the median norm of the patch tokens at each depth."""
        return np.median(self.norms[:, self.num_prefix:], axis=1)

    def high_norm(self, factor: float = HIGH_NORM_FACTOR) -> np.ndarray:
        """(L+1, N) bool: tokens whose norm exceeds `factor` × that depth's median patch norm."""
        return self.norms > factor * self.median_patch_norm[:, None]


def token_norms(tokens: np.ndarray | Tensor, num_prefix: int) -> TokenNorms:
    t = torch.as_tensor(tokens).float()
    return TokenNorms(norms=t.norm(dim=-1).numpy(), num_prefix=num_prefix)
