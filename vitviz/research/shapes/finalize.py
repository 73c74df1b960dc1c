"""After a fine-tuning run: a compact copy to keep between sessions, and the card with the
independent evaluation renderer's numbers.

    python -m vitviz.research.shapes.finalize compact runs/shapes_dr training/shapes_dr --log runs/shapes_dr.log
    python -m vitviz.research.shapes.finalize card runs/shapes_dr --base runs/shapes_dr_init/vitviz-shapes.json \
        --export vitviz/assets/models

``compact``: the run's checkpoint without optimizer state (``--resume`` restarts AdamW's moments from
it), its CSV logs, every ``--snapshot-stride``-th position-embedding snapshot and the console log.

``card``: takes the run's exported card (``OUT/vitviz-shapes.json``, written at the end of training or
by ``train --export-only``), scores the shipped fp16 weights and the base model's on
:mod:`vitviz.research.shapes.eval_renderer`, prepends the base card's learning curve to this run's,
adds both to the card (``evaluation.independent_renderer``, the notes) and writes the JSON and
Markdown cards next to the run's weights; ``--export DIR`` then copies weights and cards to DIR,
only if the issue's targets are met (``--force`` to copy anyway).

Not training code: nothing in ``loop`` / ``data`` / ``generator`` imports this module.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import torch

from vitviz.research.shapes import eval_renderer as er

TARGETS = {"top1": 0.90, "rollout_on_shape": 0.80, "generator_accuracy": 0.95}
KEEP = ("log.csv", "eval.csv", "eval_dr.csv")


def compact_copy(run_dir: Path, dest: Path, log: Path | None = None, snapshot_stride: int = 2) -> int:
    """Weights without optimizer state, logs and some snapshots of `run_dir` into `dest` → bytes written."""
    run_dir, dest = Path(run_dir), Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    ck = torch.load(run_dir / "checkpoint.pt", map_location="cpu", weights_only=False)
    torch.save({k: v for k, v in ck.items() if k != "opt"}, dest / "checkpoint.pt")
    for name in KEEP:
        if (run_dir / name).exists():
            shutil.copy(run_dir / name, dest / name)
    if log and Path(log).exists():
        shutil.copy(log, dest / "console.log")
    snaps = sorted((run_dir / "pos_snapshots").glob("step_*.npy"))
    if snaps:
        (dest / "pos_snapshots").mkdir(exist_ok=True)
        for p in snaps[::snapshot_stride] + snaps[-1:]:
            shutil.copy(p, dest / "pos_snapshots" / p.name)
    return sum(p.stat().st_size for p in dest.rglob("*") if p.is_file())


def _renderer_section(result: dict, before: dict) -> dict:
    keys = ("top1", "rollout_on_shape", "rollout_near_shape", "rollout_chance")
    return {
        "module": "vitviz.research.shapes.eval_renderer",
        "images": f"{result['n']} images, eval_renderer.render_set(n, seed={result['seed']}), classes balanced",
        **{k: round(result[k], 4) for k in keys},
        "per_class": {c: {k: round(v[k], 4) for k in ("top1", "rollout_on_shape")} for c, v in result["per_class"].items()},
        "per_background": {b: {"top1": round(v["top1"], 4), "rollout_on_shape": round(v["rollout_on_shape"], 4),
                               "n": v["n"]} for b, v in result["per_background"].items()},
        "rollout_on_shape_definition": "argmax patch of the CLS row of attention rollout (mean over heads, no "
                                       "discarding) contains at least one shape pixel (mask not dilated)",
        "rollout_near_shape_definition": "the same with the mask dilated by one patch (as rollout_hit_rate above)",
        "how_it_differs": " ".join(er.__doc__.split("(``generator`` + ``domain_random``):")[1]
                                   .split("Shared with")[0].split()),
        "before_domain_randomisation": {k: round(before[k], 4) for k in keys},
    }


def _notes(card: dict, ir: dict) -> str:
    tr, dr_ev = card["training"], card["evaluation"].get("domain_random_held_out", {})
    b = ir["before_domain_randomisation"]
    stages = tr.get("stages") or [{"command": card["reproduce"]}]
    dr_stages = [k + 1 for k, st in enumerate(stages) if "--domain-random" in st["command"]] or [len(stages)]
    names = f"Stage {dr_stages[0]}" if len(dr_stages) == 1 else f"Stages {dr_stages[0]}-{dr_stages[-1]}"
    last = "`; `".join(stages[k - 1]["command"] for k in dr_stages)
    return (
        f"{names}, domain randomisation (issue 16): the stage-{dr_stages[0] - 1} model fine-tuned with "
        f"{card['generator'].get('domain_random', {}).get('share', 0):.0%} of every batch drawn by "
        "vitviz.research.shapes.domain_random (backgrounds from random crops of the bundled photos and from value "
        "noise, stripes, checkers, gradients, Gaussian noise, blurred colour blobs; any object colour incl. low "
        "contrast; stroke-only polygons; aliased or supersampled edges; occluders, the mask being the visible part; "
        "sizes 0.22-0.65; in the last stage a share of colours of the background's luminance but another hue) "
        "and the rest by the plain generator, token labels from the visible mask "
        f"(thresholds: --token-min-frac, --token-fg-min-frac): `{last}`. "
        f"Scored on the independent evaluation renderer (vitviz.research.shapes.eval_renderer: own geometry, "
        f"colours, backgrounds and seed stream; see evaluation.independent_renderer.how_it_differs), {ir['images']}: "
        f"top-1 {ir['top1']:.3f} (before: {b['top1']:.3f}), top rollout patch on the shape "
        f"{ir['rollout_on_shape']:.3f} (before: {b['rollout_on_shape']:.3f}; within one patch "
        f"{ir['rollout_near_shape']:.3f}, random patch {ir['rollout_chance']:.3f}). "
        + (f"Domain-randomised held-out images: accuracy {dr_ev['accuracy']:.3f}, rollout hit "
           f"{dr_ev['rollout_hit_rate']:.3f}. " if dr_ev else "")
        + "The recipe was chosen on the generator's validation (plain and domain-randomised), not on the "
          "evaluation renderer, which was run once before and once after the fine-tune. "
    )


def _merged_curve(base: dict, run_dirs: list[Path]) -> dict:
    """The base card's learning curve followed by the runs' (stages after the base, in order)."""
    from vitviz.research.card import learning_curve
    offset = int(base["training"]["steps"])
    new = learning_curve(run_dirs)  # steps counted across these runs
    old = base.get("learning_curve") or {**new, "train": [], "eval": []}
    shift = lambda rows: [[r[0] + offset, *r[1:]] for r in rows]  # noqa: E731
    return {**old, "train": old["train"] + shift(new["train"]), "eval": old["eval"] + shift(new["eval"]),
            "eval_note": old.get("eval_note", "") + f"; from step {offset} (domain-randomised stages): 300 held-out "
                                                    "images of the plain generator"}


def finalize_card(run_dir: Path, base_card: Path, n: int = 600, seed: int = er.DEFAULT_SEED,
                  tried: str = "", earlier: list[Path] = ()) -> tuple[dict, dict]:
    """Card of `run_dir` with the renderer's numbers (written beside the run's weights) → (card, checks)."""
    from vitviz.research.card import card_json, card_markdown
    run_dir, base_card = Path(run_dir), Path(base_card)
    path = run_dir / "vitviz-shapes.json"
    card, base = json.loads(path.read_text()), json.loads(base_card.read_text())
    after = er.evaluate(er.load_weights(run_dir / "vitviz-shapes.safetensors"), n, seed)
    before = er.evaluate(er.load_weights(base_card.with_suffix(".safetensors")), n, seed)
    ir = _renderer_section(after, before)
    card["evaluation"]["independent_renderer"] = ir
    card["learning_curve"] = _merged_curve(base, [*map(Path, earlier), run_dir])
    notes = base.get("notes", "")
    card["notes"] = _notes(card, ir) + (tried.strip() + " " if tried else "") + ("Earlier stages: " + notes if notes else "")
    path.write_text(card_json(card))
    path.with_suffix(".md").write_text(card_markdown(card))
    checks = {"top1": ir["top1"] >= TARGETS["top1"],
              "rollout_on_shape": ir["rollout_on_shape"] >= TARGETS["rollout_on_shape"],
              "generator_accuracy": card["evaluation"]["accuracy"] >= TARGETS["generator_accuracy"]}
    return card, checks


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m vitviz.research.shapes.finalize", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("compact")
    c.add_argument("run")
    c.add_argument("dest")
    c.add_argument("--log", default=None)
    c.add_argument("--snapshot-stride", type=int, default=2)
    k = sub.add_parser("card")
    k.add_argument("run")
    k.add_argument("--base", required=True, help="the card (.json, weights beside it) the run was initialised from")
    k.add_argument("-n", type=int, default=600)
    k.add_argument("--seed", type=int, default=er.DEFAULT_SEED)
    k.add_argument("--export", default=None, help="copy weights + cards here if the targets are met")
    k.add_argument("--force", action="store_true")
    k.add_argument("--tried", default="", help="what else was tried in this stage (added to the notes)")
    k.add_argument("--earlier", nargs="*", default=[], help="run directories of the stages between the base "
                   "and RUN, in order (their logs join the learning curve)")
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    if a.cmd == "compact":
        size = compact_copy(Path(a.run), Path(a.dest), a.log and Path(a.log), a.snapshot_stride)
        print(f"wrote {a.dest} ({size / 1e6:.2f} MB)")
        return 0
    card, checks = finalize_card(Path(a.run), Path(a.base), a.n, a.seed, a.tried, a.earlier)
    print(json.dumps({"independent_renderer": {k: card["evaluation"]["independent_renderer"][k]
                                               for k in ("top1", "rollout_on_shape", "rollout_near_shape")},
                      "generator_accuracy": card["evaluation"]["accuracy"], "targets_met": checks}, indent=2))
    if a.export:
        if not all(checks.values()) and not a.force:
            print("targets not met: not exported (--force to copy anyway)", file=sys.stderr)
            return 1
        dst = Path(a.export)
        for suffix in (".safetensors", ".json", ".md"):
            shutil.copy(Path(a.run) / f"vitviz-shapes{suffix}", dst / f"vitviz-shapes{suffix}")
        print(f"exported to {dst}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
