"""Hard-label distillation through the class token (DeiT, Touvron et al. 2021, arXiv:2012.12877, eq. 3),
and the building block of the small CNN teachers (fashion.teacher, shapes.teacher).

A ViT trained from scratch on little data lacks a convolution's locality prior; a CNN teacher's labels
pass some of it on. The student stays a plain ViT with one class token: no distillation token.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def distilled_loss(logits: torch.Tensor, y: torch.Tensor, taught: torch.Tensor, weight: float,
                   label_smoothing: float = 0.0) -> torch.Tensor:
    """Cross-entropy of `logits` (B, K) on the true labels `y` (B,) and on the teacher's labels `taught` (B,),
    the latter with weight `weight` (DeiT: 0.5)."""
    return ((1 - weight) * F.cross_entropy(logits, y, label_smoothing=label_smoothing)
            + weight * F.cross_entropy(logits, taught, label_smoothing=label_smoothing))


def conv_bn_relu(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    """A 3x3 convolution, batch norm and ReLU: one layer of a teacher CNN."""
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False), nn.BatchNorm2d(cout),
                         nn.ReLU(inplace=True))
