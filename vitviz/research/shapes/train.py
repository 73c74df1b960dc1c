"""Train the embedded vitviz model (a small timm ViT) on procedurally generated shapes.

    python -m vitviz.research.shapes.train --out runs/final --export vitviz/assets/models

Recipe (see the model card for what was tried):

* timm ``VisionTransformer`` built from keyword args, learned position embeddings
  from timm's default init, class token, ``global_pool='token'``;
* images from :mod:`vitviz.research.shapes.generator` generated on the fly in worker processes,
  deterministic per step (``default_rng([seed, step])``), so resuming replays
  exactly the same data;
* **token labelling** (Jiang et al. 2021): an auxiliary linear head, used only
  in training and not exported, makes every patch token predict the class of
  the object under it (or background) from the generator's mask.  Without this
  dense signal a ViT trained from scratch sat at chance for a long time;
* a curriculum from large centred objects on flat backgrounds to the full
  cluttered setting;
* AdamW, linear warm-up + cosine decay, bf16 autocast on CPU.

Outputs in ``--out``: ``log.csv`` (learning curve), ``eval.csv``,
``checkpoint.pt`` (every ``--checkpoint-minutes``; ``--resume`` continues from it),
``pos_snapshots/step_*.npy`` (position embeddings every ``--snapshot-every``
steps) and at the end ``vitviz-shapes.safetensors`` (fp16) + ``vitviz-shapes.json``.

Code: ``options`` (flags), ``data`` (batches), ``model`` (architecture), ``loop`` (training),
``metrics`` (held-out scores), ``export`` (weights + card); this module is the entry point.
"""

from __future__ import annotations

import sys

from vitviz.research.shapes.export import export_checkpoint
from vitviz.research.shapes.loop import train
from vitviz.research.shapes.options import parse_args

__all__ = ["export_checkpoint", "main", "parse_args", "train"]


def main(argv=None) -> int:
    args = parse_args(argv)
    card = export_checkpoint(args) if args.export_only else train(args)
    return 0 if card else 1


if __name__ == "__main__":
    sys.exit(main())
