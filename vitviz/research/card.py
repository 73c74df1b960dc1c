"""The embedded model's card: learning curves from the training runs, and a Markdown version.

    python -m vitviz.research.card runs/final runs/final2 runs/final3 --card vitviz/assets/models/vitviz-shapes.json \
        --figure vitviz/assets/pos_embed_emergence

Run after `python -m vitviz.research.shapes.train ... --export vitviz/assets/models`: it adds the learning curve of
every stage (run directories in stage order, steps counted across stages) to the JSON card,
writes the Markdown card beside it (`vitviz-shapes.md`) and, with --figure, draws the position
embeddings forming over all stages (`.png` contact sheet and `.gif`) from the runs' snapshots.
"""
from __future__ import annotations

import argparse
import csv
import json
import re
import math
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from vitviz.analysis.embeddings import PosLocality, pos_embed_similarity
from vitviz.render import SIGNED_CMAP, enlarge, heatmap_rgb

TRAIN_COLUMNS = ["step", "images", "difficulty", "lr", "loss", "cls_loss", "token_loss", "train_acc_last_20_steps",
                 "elapsed_s"]
EVAL_COLUMNS = ["step", "images", "accuracy", "rollout_hit_rate", "pos_neighbour_cos", "pos_far_cos"]


def _read_csv(path: Path) -> list[dict]:
    if not path.exists():
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def learning_curve(run_dirs: list[Path], every: int = 200) -> dict:
    """Training rows every `every` steps (and each stage's last) plus every held-out evaluation,
    with steps counted across stages."""
    offset, train, evals = 0, [], []
    for run in map(Path, run_dirs):
        rows = _read_csv(run / "log.csv")
        for row in rows:
            step = int(row["step"])
            if step % every == 0 or row is rows[-1]:
                train.append([step + offset, int(row["images"]), float(row["difficulty"]), float(row["lr"]),
                              float(row["loss"]), float(row["cls_loss"]), float(row["token_loss"]),
                              float(row["train_acc"]), float(row["elapsed_s"])])
        for row in _read_csv(run / "eval.csv"):
            evals.append([int(row["step"]) + offset, int(row["images"]), float(row["accuracy"]),
                          float(row["rollout_hit_rate"]), float(row["pos_neighbour_cos"]), float(row["pos_far_cos"])])
        if rows:
            offset += int(rows[-1]["step"])
    return {"train_columns": TRAIN_COLUMNS, "train": train, "eval_columns": EVAL_COLUMNS,
            "eval_note": "200 held-out images at full difficulty (default_rng([987654, i])), steps across stages",
            "eval": evals}


def card_json(card: dict) -> str:
    """The card as JSON, one line per learning-curve row."""
    text = json.dumps(card, indent=2)
    return re.sub(r"\[\s+(-?[\d.e+-]+(?:,\s+-?[\d.e+-]+)+)\s+\]",
                  lambda m: "[" + re.sub(r",\s+", ", ", m.group(1)) + "]", text) + "\n"


def _pos_pattern(ev: dict) -> str:
    """The card's position-embedding numbers read as the app reads them (`PosLocality.pattern`)."""
    return PosLocality(neighbour_cos=ev["pos_embed_neighbour_cos"], far_cos=ev["pos_embed_far_cos"],
                       same_ring_far_cos=ev.get("pos_embed_same_ring_far_cos"), same_line_far_cos=None, far=5).pattern


def card_markdown(card: dict) -> str:
    """A human-readable model card from the JSON card (numbers, reproduction, curve, notes)."""
    ev, tr, ma = card["evaluation"], card["training"], card["model_args"]
    grid = ma["img_size"] // ma["patch_size"]
    curve = card.get("learning_curve", {}).get("eval", [])
    lines = [
        f"# {card['name']}: the embedded offline ViT",
        "",
        "A small timm `VisionTransformer` trained from scratch on this machine (CPU only, no pretrained weights) on "
        "the procedurally generated shapes of `vitviz/research/shapes/generator.py`: one filled shape per image "
        f"({', '.join(card['class_names'])}), random size, position, rotation and colour, on a textured background "
        "with thin lines and small blobs as distractors.",
        "",
        "| | |",
        "|---|---|",
        "| architecture | `timm.models.vision_transformer.VisionTransformer(**model_args)` |",
        f"| grid | {grid}x{grid} patches of {ma['patch_size']} px at {ma['img_size']} px input "
        f"({grid * grid + 1} tokens with the class token), `global_pool='token'` |",
        f"| size | depth {ma['depth']}, width {ma['embed_dim']}, {ma['num_heads']} heads, "
        f"{card['weights']['num_params']:,} parameters, fp16 safetensors {card['weights']['bytes'] / 1e6:.1f} MB |",
        f"| input | resize to {ma['img_size']}x{ma['img_size']} (bilinear, crop_pct 1.0), "
        f"mean {card['pretrained_cfg']['mean']}, std {card['pretrained_cfg']['std']} |",
        f"| training | {tr['steps']} steps, {tr['images_seen']:,} generated images, "
        f"{tr['training_time_s'] / 60:.0f} min on 2 CPU cores, {len(tr.get('stages', [])) or 1} stage(s) |",
        "",
        f"## Numbers ({ev['held_out']})",
        "",
        f"* accuracy: **{ev['accuracy']:.3f}** (target 0.95)",
        f"* attention rollout top patch on the object (mask dilated by one patch): **{ev['rollout_hit_rate']:.3f}** "
        f"(target 0.85); a random patch would hit {ev['rollout_chance_rate']:.3f}; top patch itself >= 25 % object: "
        f"{ev['rollout_hit_rate_strict']:.3f}",
        f"* position embeddings: mean cosine of 4-neighbour pairs **{ev['pos_embed_neighbour_cos']:.3f}** vs pairs "
        f"with Chebyshev distance >= 5 **{ev['pos_embed_far_cos']:.3f}**"
        + (f"; of those far pairs, the ones on the same square ring around the grid centre "
           f"**{ev['pos_embed_same_ring_far_cos']:.3f}** (close to the neighbours: the code is distance from the centre "
           "rather than 2D position)" if _pos_pattern(ev) == "radial" else ""),
        "",
        "## Reproduce",
        "",
        "```",
        card["reproduce"].replace(" && ", "\n"),
        "```",
        "",
        "Data are a function of (seed, step), so a run resumed with `--resume` replays exactly the same images.",
        "`runs/<out>/log.csv` holds the learning curve, `pos_snapshots/` the position embeddings every 100 steps",
        "(`vitviz.research.card.save_pos_embed_figure` draws `vitviz/assets/pos_embed_emergence.png/.gif` from them);",
        "`python -m vitviz.research.card <run dirs in stage order> --figure vitviz/assets/pos_embed_emergence` writes the",
        "curve into the card, this file and the figure.",
        "",
        "## Held-out evaluation during training (full difficulty, 200 images; steps across stages)",
        "",
        "| step | images | accuracy | rollout hit | pos neighbour cos | pos far cos |",
        "|---|---|---|---|---|---|",
        *[f"| {s} | {n:,} | {a:.3f} | {r:.3f} | {pn:.3f} | {pf:.3f} |" for s, n, a, r, pn, pf in curve],
        "",
        "## Recipe and what was tried",
        "",
        card["notes"],
        "",
    ]
    return "\n".join(lines)


# Probe positions as fractions of the grid, so that they mean the same place on a 7x7 and a 14x14 grid.
PROBES = ((0.15, 0.15), (0.5, 0.5), (0.8, 0.7), (0.25, 0.8))
TILE_PX = 112


def _snapshots(run_dirs: list[Path]) -> list[tuple[str, int, Path]]:
    """("stage k", step counted across stages, file) of every position-embedding snapshot."""
    out, offset = [], 0
    for stage, run in enumerate(map(Path, run_dirs), 1):
        for f in sorted((run / "pos_snapshots").glob("step_*.npy")):
            out.append((f"stage {stage}", offset + int(f.stem.split("_")[1]), f))
        rows = _read_csv(run / "log.csv")
        offset += int(rows[-1]["step"]) if rows else 0
    return out


def pos_embed_frame(pos_embed: np.ndarray, label: str) -> Image.Image:
    """One frame: cosine similarity of a few probe positions' embeddings to every position,
    in the app's colours.

    pos_embed: (1 + g*g, C), class token first."""
    patches = torch.from_numpy(pos_embed[1:].astype(np.float32))  # g*g, C
    g = int(round(math.sqrt(len(patches))))
    sim = pos_embed_similarity(patches, (g, g)).numpy()  # g*g, g, g
    cell, pad = TILE_PX // g, 4
    tiles = []
    for fy, fx in PROBES:
        y, x = min(g - 1, int(fy * g)), min(g - 1, int(fx * g))
        tile = enlarge(heatmap_rgb(sim[y * g + x], -1.0, 1.0, cmap=SIGNED_CMAP), cell)
        tile[y * cell:(y + 1) * cell, x * cell:(x + 1) * cell] = 255  # the probe itself
        tiles.append(np.pad(tile, ((pad, pad), (pad, pad), (0, 0)), constant_values=255))
    strip = Image.fromarray(np.concatenate(tiles, 1))
    canvas = Image.new("RGB", (strip.width, strip.height + 16), "white")
    canvas.paste(strip, (0, 16))
    ImageDraw.Draw(canvas).text((pad, 2), f"{label}, {g}x{g} grid: cosine to the white probe (yellow +1, purple -1)",
                                fill=(0, 0, 0))
    return canvas


def save_pos_embed_figure(run_dirs: list[Path], stem: Path, max_frames: int = 48) -> tuple[Path, Path]:
    """`stem`.png (4 moments, top to bottom) and `stem`.gif (up to `max_frames` frames) of the
    position embeddings over all stages."""
    snaps = _snapshots(run_dirs)
    if not snaps:
        raise SystemExit("no position-embedding snapshots in " + ", ".join(map(str, run_dirs)))
    pick = np.unique(np.linspace(0, len(snaps) - 1, min(max_frames, len(snaps))).round().astype(int))
    frames = [pos_embed_frame(np.load(snaps[i][2]), f"{snaps[i][0]} step {snaps[i][1]}") for i in pick]
    rows = [frames[i] for i in np.unique(np.linspace(0, len(frames) - 1, 4).round().astype(int))]
    sheet = Image.new("RGB", (rows[0].width, rows[0].height * len(rows)), "white")
    for i, row in enumerate(rows):
        sheet.paste(row, (0, i * row.height))
    stem = Path(stem)
    png, gif = stem.with_suffix(".png"), stem.with_suffix(".gif")
    sheet.save(png)
    frames[0].save(gif, save_all=True, append_images=frames[1:] + [frames[-1]] * 5, duration=150, loop=0)
    return png, gif


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m vitviz.research.card", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="+", help="training run directories, in stage order")
    ap.add_argument("--card", default="vitviz/assets/models/vitviz-shapes.json")
    ap.add_argument("--figure", default=None, help="also write FIGURE.png and FIGURE.gif (position embeddings)")
    args = ap.parse_args(argv)
    path = Path(args.card)
    card = json.loads(path.read_text())
    card["learning_curve"] = learning_curve(args.runs)
    path.write_text(card_json(card))
    path.with_suffix(".md").write_text(card_markdown(card))
    print(f"wrote {path} and {path.with_suffix('.md')}")
    if args.figure:
        print("wrote {} and {}".format(*save_pos_embed_figure(args.runs, Path(args.figure))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
