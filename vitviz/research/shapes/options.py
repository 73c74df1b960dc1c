"""Command-line options of `python -m vitviz.research.shapes.train` and the command that reproduces a run."""
from __future__ import annotations

import argparse
import sys

from vitviz.research.shapes.generator import ShapesConfig

PROGRAM = "python -m vitviz.research.shapes.train"


def parse_args(argv=None):
    ap = argparse.ArgumentParser(prog=PROGRAM, description=_description(),
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="runs/train", help="run directory (logs, checkpoint, snapshots, weights)")
    ap.add_argument("--export", default=None, help="also copy weights + card to this directory (e.g. vitviz/assets/models)")
    ap.add_argument("--steps", type=int, default=6000)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--min-lr", type=float, default=1e-5)
    ap.add_argument("--warmup", type=int, default=300)
    ap.add_argument("--weight-decay", type=float, default=0.05)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--img-size", type=int, default=224)
    ap.add_argument("--patch-size", type=int, default=16)
    ap.add_argument("--embed-dim", type=int, default=128)
    ap.add_argument("--depth", type=int, default=4)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--mlp-ratio", type=float, default=4.0)
    ap.add_argument("--token-label-weight", type=float, default=1.0, help="weight of the patch-token loss (0 = off)")
    ap.add_argument("--token-loss", choices=["soft", "split"], default="split")
    ap.add_argument("--token-min-frac", type=float, default=0.25,
                    help="split loss: patches with at least this object fraction get the class target")
    ap.add_argument("--token-fg-weight", type=float, default=0.5)
    ap.add_argument("--token-fg-min-frac", type=float, default=0.5,
                    help="split loss: patches with at least this object fraction are object for the "
                    "object/background part (lower it for thin strokes and occluded shapes)")
    ap.add_argument("--dr", action="append", default=None, metavar="KEY=VALUE",
                    help="override a domain-randomisation setting of ShapesConfig (dr_KEY), e.g. --dr photo=0.5")
    ap.add_argument("--domain-random", type=float, default=0.0,
                    help="share of training images drawn with the domain-randomised recipe "
                    "(vitviz.research.shapes.domain_random; photo / noise backgrounds, any colour, outlines, "
                    "aliased edges, occluders); the rest come from the plain generator (0 = off)")
    ap.add_argument("--teacher", default=None, help="a CNN teacher (shapes.teacher's teacher.pt): half the class "
                    "loss (--distill-weight) on its labels, DeiT's hard distillation through the class token")
    ap.add_argument("--distill-weight", type=float, default=0.5)
    ap.add_argument("--share-head", action=argparse.BooleanOptionalAction, default=True,
                    help="patch tokens use the model's head for class logits (+ a background logit)")
    ap.add_argument("--curriculum-start", type=float, default=0.0, help="difficulty at step 0")
    ap.add_argument("--curriculum-frac", type=float, default=0.4, help="fraction of steps to reach difficulty 1")
    ap.add_argument("--workers", type=int, default=1, help="data generator processes (0 = inline)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--auto-threads", action=argparse.BooleanOptionalAction, default=False,
                    help="on a shared machine: every 200 steps time 1 vs --threads torch threads and keep the faster")
    ap.add_argument("--amp", action=argparse.BooleanOptionalAction, default=True, help="bf16 autocast")
    ap.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt")
    ap.add_argument("--checkpoint-minutes", type=float, default=5.0)
    ap.add_argument("--snapshot-every", type=int, default=100, help="save pos-embed snapshot every N steps (0 = off)")
    ap.add_argument("--eval-every", type=int, default=500)
    ap.add_argument("--eval-images", type=int, default=300)
    ap.add_argument("--final-eval-images", type=int, default=1000)
    ap.add_argument("--log-every", type=int, default=10)
    ap.add_argument("--max-minutes", type=float, default=0, help="stop (and export) after this much wall time in this invocation (0 = off)")
    ap.add_argument("--stop-at", type=int, default=0, help="stop (checkpoint + export) after this step; "
                    "the schedule still follows --steps, so --resume continues the same run")
    ap.add_argument("--init-from", default=None, help="start a new stage (fresh optimizer and schedule) from the "
                    "weights of another run's checkpoint.pt, or of an exported vitviz-shapes.safetensors (its "
                    ".json card beside it supplies the earlier stages; the token head starts afresh); "
                    "the card records all stages")
    ap.add_argument("--export-only", action="store_true", help="only (re-)export weights + card from OUT/checkpoint.pt")
    ap.add_argument("--tiny", action="store_true", help="tiny model/images for tests (seconds)")
    ap.add_argument("--no-progress", action="store_true")
    ap.add_argument("--note", default="", help="free text stored in the card")
    args = ap.parse_args(argv)
    if args.tiny:
        given = argv if argv is not None else sys.argv
        args.patch_size, args.embed_dim, args.depth, args.heads = 8, 32, 1, 2
        if "--img-size" not in given:
            args.img_size = 32
        if "--batch-size" not in given:
            args.batch_size = 8
        args.eval_images = min(args.eval_images, 20)
        args.final_eval_images = min(args.final_eval_images, 20)
    return args


def _description() -> str:
    from vitviz.research.shapes import train
    return train.__doc__


def shapes_config_for(args) -> ShapesConfig:
    """The generator settings a run trains on (`--domain-random` mixes in the randomised recipe)."""
    over = {}
    for item in getattr(args, "dr", None) or []:
        key, value = item.split("=", 1)
        key = "dr_" + key.removeprefix("dr_")
        default = getattr(ShapesConfig, key)  # AttributeError: no such setting
        over[key] = tuple(float(v) for v in value.split(",")) if isinstance(default, tuple) else float(value)
    return ShapesConfig(image_size=args.img_size, domain_random=getattr(args, "domain_random", 0.0), **over)


def cli_args(args, keep_out=False, steps_done=None):
    """The command-line arguments that reproduce `args` (defaults left out); a run stopped
    early (--stop-at / --max-minutes) is reproduced by --stop-at at the step it reached."""
    skip = {"resume", "no_progress", "note", "export", "stop_at", "export_only", "auto_threads", "max_minutes"}
    if not keep_out:
        skip.add("out")
    defaults = vars(parse_args([]))
    out = []
    for k, v in vars(args).items():
        if k in skip or v is None or (k in defaults and defaults[k] == v and not args.tiny):
            continue
        flag = "--" + k.replace("_", "-")
        if isinstance(v, bool):
            if k == "amp":
                out.append("--amp" if v else "--no-amp")
            elif v:
                out.append(flag)
        elif isinstance(v, list):
            for item in v:
                out += [flag, str(item)]
        else:
            out += [flag, str(v)]
    if steps_done is not None and steps_done < args.steps:
        out += ["--stop-at", str(steps_done)]
    return out


def command_for(args, keep_out=False, steps_done=None) -> str:
    """The shell command that reproduces `args` (see `cli_args`)."""
    return PROGRAM + " " + " ".join(cli_args(args, keep_out=keep_out, steps_done=steps_done))
