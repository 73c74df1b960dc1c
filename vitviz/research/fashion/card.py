"""vitviz-fashion's model card: the record of each training stage (from its run directory) and the Markdown card."""
from __future__ import annotations

import csv
import json
from pathlib import Path

from . import loop, teacher

AUGMENTATION = ("random shifts of up to 2 px in x and y (zero padding: the background is black) and horizontal "
                "flips with probability 0.5 (data.augment), fresh for every batch")
ERASING = ("; random erasing (data.random_erase, arXiv:1708.04896) of a rectangle of 2-25 % of the image, aspect "
           "0.3-3.3, filled with uniform noise, with probability {p} per image")
SCHEDULE = "AdamW, linear warm-up then cosine decay to min_lr (loop.lr_at), gradient clipping at norm 1.0"


def _rows(path: Path) -> list[dict]:
    if not path.exists():
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def last_per_step(rows: list[dict]) -> list[dict]:
    """One row per step, the last one written: a run resumed from a checkpoint older than its log
    repeats the steps after that checkpoint, and the later rows are the ones the model continued from."""
    by_step = {int(r["step"]): r for r in rows}
    return [by_step[s] for s in sorted(by_step)]


RECIPE_OPTIONS = ("grid", "steps", "batch", "lr", "min_lr", "warmup", "weight_decay", "label_smoothing", "seed",
                  "threads")


def command_for(args: dict) -> str:
    """The `loop` command line of a run's args.json: the recipe's options always, others when not at their
    default; no --resume."""
    defaults = vars(loop.parse_args(["--out", args["out"]]))
    parts = ["python -m vitviz.research.fashion.loop", f"--out {args['out']}"]
    for key, value in args.items():
        if key in ("out", "resume") or key not in defaults or (value == defaults[key] and key not in RECIPE_OPTIONS):
            continue
        flag = "--" + key.replace("_", "-")
        if isinstance(value, bool):
            parts.append(flag if value else "--no-" + key.replace("_", "-"))
        elif value is not None:
            parts.append(f"{flag} {value}")
    return " ".join(parts)


def augmentation_text(args: dict) -> str:
    erase = float(args.get("erase") or 0.0)
    return AUGMENTATION + (ERASING.format(p=erase) if erase else "")


def _erase_text(st: dict) -> str:
    erase = st.get("random_erasing") or 0.0
    return f", and{ERASING.format(p=erase).removeprefix(';')}" if erase else ""


def stage_record(run_dir: Path, ckpt: dict) -> dict:
    """What the card says about one stage: recipe, steps done, time, validation curve."""
    args = json.loads((run_dir / "args.json").read_text()) if (run_dir / "args.json").exists() else dict(ckpt["args"])
    args = {**args, **{k: v for k, v in ckpt["args"].items() if k not in args}}
    val = [[int(r["step"]), float(r["val_accuracy"]), float(r["seconds"])]
           for r in last_per_step(_rows(run_dir / "val.csv"))]
    log = last_per_step(_rows(run_dir / "log.csv"))
    grid = ckpt["config"]["grid"]
    return {
        "run": str(run_dir), "command": command_for(args),
        "grid": grid, "patch_px_at_28": 28 // grid,
        "init": _init_text(args, grid),
        "distillation": distillation_record(args),
        "steps": int(ckpt["step"]), "steps_planned": int(args["steps"]), "batch": int(args["batch"]),
        "images_seen": int(ckpt["step"]) * int(args["batch"]),
        "lr": args["lr"], "min_lr": args["min_lr"], "warmup_steps": args["warmup"], "schedule": SCHEDULE,
        "warm_restarts": warm_restarts(log, int(args["warmup"])),
        "weight_decay": args["weight_decay"], "label_smoothing": args["label_smoothing"], "augmentation": augmentation_text(args),
        "random_erasing": float(args.get("erase") or 0.0),
        "drop_path_rate": ckpt["config"].get("drop_path_rate"), "seed": args["seed"],
        "bf16_autocast": bool(args.get("amp")),
        "threads": args.get("threads"), "training_time_s": round(float(ckpt["seconds"]), 1),
        "resumed": len(_rows(run_dir / "log.csv")) > len(log) or bool(args.get("resume")),
        "final_train_loss": float(log[-1]["loss"]) if log else None,
        "val_accuracy_last": val[-1][1] if val else None,
        "val_columns": ["step", "val_accuracy", "seconds"], "val": val,
    }


def _init_text(args: dict, grid: int) -> str:
    if not args.get("init_from"):
        return "random"
    prev = Path(args["init_from"]) / "args.json"
    if prev.exists() and json.loads(prev.read_text()).get("grid") == grid:
        return f"{args['init_from']}/final.pt (the same grid)"
    return (f"{args['init_from']}/final.pt, patch kernel summed over the finer blocks and position "
            "embeddings interpolated in 2D (model.finer_grid_state)")


def distillation_record(args: dict) -> dict | None:
    """The teacher of a distilled stage (loop.py --teacher): what it is and how good, from its teacher.json."""
    if not args.get("teacher"):
        return None
    path = Path(args["teacher"])
    meta = json.loads(path.with_suffix(".json").read_text()) if path.with_suffix(".json").exists() else {}
    return {"teacher": str(path), "kind": "hard labels through the class token (DeiT, arXiv:2012.12877, eq. 3)",
            "weight": args.get("distill_weight"),
            "teacher_architecture": "vitviz.research.fashion.teacher.TeacherCNN "
                                    f"(width {meta.get('args', {}).get('width', '?')})",
            "teacher_val_accuracy": meta.get("val_accuracy"), "teacher_steps": meta.get("steps"),
            "teacher_training_time_s": meta.get("seconds"),
            "teacher_command": meta.get("command") or (teacher.command_for(meta["args"]) if "args" in meta else None)}


def warm_restarts(log: list[dict], warmup: int) -> list[list]:
    """[step, lr at it, lr logged next] wherever the logged learning rate jumped up after the warm-up:
    a run extended with a larger --steps recomputes its cosine, so it restarts from a higher rate."""
    rows = [(int(r["step"]), float(r["lr"])) for r in log]
    return [[step, before, after] for (step, before), (_, after) in zip(rows, rows[1:])
            if step > warmup and after > 2 * before]


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.3f}"


def _numbers(ev: dict, grid: int) -> list[str]:
    full, sub, pos = ev["test"], ev["test_subset"], ev["pos_embed"]
    lines = [
        f"| | full test split ({full['n']:,}) | committed subset ({sub['n']:,}) | target |",
        "|---|---|---|---|",
        f"| accuracy | **{_pct(full['accuracy'])}** | {_pct(sub['accuracy'])} | >= 0.91 |",
        f"| rollout top patch on the garment | **{_pct(full['rollout_on_garment'])}** | "
        f"{_pct(sub['rollout_on_garment'])} | >= 0.90 |",
        f"| a random patch on the garment (chance) | {_pct(full['rollout_chance'])} | "
        f"{_pct(sub['rollout_chance'])} | |",
        f"| top patch entirely garment (strict) | {_pct(full['rollout_strict'])} | {_pct(sub['rollout_strict'])} | |",
        "",
        "| class | accuracy, full test | accuracy, subset |",
        "|---|---|---|",
        *[f"| {name} | {acc:.3f} | {sub['per_class_accuracy'].get(name, float('nan')):.3f} |"
          for name, acc in full["per_class_accuracy"].items()],
        "",
        f"Position embeddings (`PosLocality`, as the app's position section measures them): mean cosine of "
        f"4-neighbour pairs **{pos['neighbour_cos']:.3f}**, of pairs >= {pos['far']} cells apart (Chebyshev) "
        f"{pos['far_cos']:.3f}, of those far pairs on the same square ring around the centre "
        f"{pos['same_ring_far_cos']:.3f}; neighbour minus same-ring-far **{pos['neighbour_minus_same_ring_far']:.3f}** "
        f"(target >= 0.3); pattern **{pos['pattern']}** (target grid).",
    ]
    if "left_right_mirror_cos" in pos:
        lines += [
            "",
            f"Mirror symmetry (not part of `PosLocality`): a position and its left-right mirror (r, c) / "
            f"(r, {grid - 1}-c), at least {pos['far']} apart, have mean cosine **{pos['left_right_mirror_cos']:.3f}**; "
            f"up-down mirrors {pos['up_down_mirror_cos']:.3f}. Training flips pictures left-right (a garment and its "
            "mirror image are equally likely), so where the code is close to the neighbours' cosine it tells rows "
            "apart and, within a row, the distance from the vertical midline rather than left from right.",
        ]
    return lines


def _restart_text(st: dict) -> str:
    restarts = st.get("warm_restarts") or []
    return "".join(f" (over {st['steps_planned']:,} steps: the run was first planned to end at step {step:,} "
                   f"and then extended, so after step {step:,} the rate jumped from {before:.1e} back to "
                   f"{after:.1e}, a warm restart, and decayed again)"
                   for step, before, after in restarts)


def _stage_lines(i: int, st: dict) -> list[str]:
    done = f"{st['steps']:,} of {st['steps_planned']:,} planned steps" if st["steps"] != st["steps_planned"] \
        else f"{st['steps']:,} steps"
    return [
        f"**Stage {i}** ({st['grid']}x{st['grid']} grid, patch {st['patch_px_at_28']} px at 28 px; "
        f"init: {st['init']}): "
        f"{done} x batch {st['batch']} ({st['images_seen']:,} images), lr {st['lr']} with {st['warmup_steps']} "
        f"warm-up steps, cosine to {st['min_lr']}{_restart_text(st)}, weight decay {st['weight_decay']}, label smoothing "
        f"{st['label_smoothing']}, drop path {st['drop_path_rate']}, seed {st['seed']}, {st['threads']} CPU "
        f"thread(s), bf16 autocast {'on' if st['bf16_autocast'] else 'off'}{_erase_text(st)}; "
        f"{st['training_time_s'] / 60:.0f} min "
        f"of training; last validation accuracy {_pct(st['val_accuracy_last'])}.{_distill_text(st)}",
        "",
    ]


def _distill_text(st: dict) -> str:
    d = st.get("distillation")
    if not d:
        return ""
    return (f" Distilled: the loss is {1 - d['weight']:.2g} x cross-entropy on the true labels + {d['weight']:.2g} x "
            f"cross-entropy on the teacher's labels, {d['kind']}; teacher {d['teacher_architecture']}, trained on "
            f"the same 55,000 train images ({d['teacher_steps']:,} steps, {d['teacher_training_time_s'] / 60:.0f} min; "
            f"`{d['teacher_command']}`), validation accuracy {_pct(d['teacher_val_accuracy'])}; the teacher is "
            "not shipped.")


def _header(card: dict) -> list[str]:
    ma, d, w, stages = card["model_args"], card["data"], card["weights"], card["training"]["stages"]
    grid, pc = ma["img_size"] // ma["patch_size"], card["pretrained_cfg"]
    return [
        f"# {card['name']}: a small ViT for Fashion-MNIST, embedded and offline",
        "",
        "A timm `VisionTransformer` trained from scratch on this machine (CPU only, no pretrained weights) on "
        f"{d['name']}: {d['description']}",
        "",
        "| | |",
        "|---|---|",
        "| architecture | `timm.models.vision_transformer.VisionTransformer(**model_args)`, class token, "
        "`global_pool='token'` |",
        f"| served input | {ma['img_size']}x{ma['img_size']} RGB in {grid}x{grid} patches of {ma['patch_size']} px "
        f"({grid * grid + 1} tokens); the picture is resized with nearest-neighbour sampling (crop_pct 1.0), "
        f"mean {pc['mean'][0]}, std {pc['std'][0]} on every channel |",
        f"| trained as | 28x28 greyscale, {grid}x{grid} patches of {28 // grid} px; exported exactly (below) |",
        f"| size | depth {ma['depth']}, width {ma['embed_dim']}, {ma['num_heads']} heads, MLP ratio "
        f"{ma['mlp_ratio']}, {w['num_params']:,} parameters, {w['dtype']} safetensors {w['bytes'] / 1e6:.1f} MB |",
        f"| data | {d['train']}; {d['validation']}; {d['test']} |",
        f"| licence of the data | {d['licence']} |",
        f"| training | {len(stages)} stages, {sum(st['steps'] for st in stages):,} steps, "
        f"{sum(st['training_time_s'] for st in stages) / 60:.0f} min on CPU |",
        "",
    ]


def _measurement_notes(ev: dict) -> list[str]:
    s1 = ev.get("stage1_test")
    lines = [
        f"*Rollout*: {ev['rollout_definition']} *Garment*: {ev['garment_definition']}",
        "",
        f"The full test split takes {ev['seconds_full_test']:.0f} s here ({ev['threads']} thread); the numbers are "
        "those of the exported weights read back from the safetensors file, through the served 224-px path. "
        "The 28-px training model gives the same logits (largest difference "
        f"{ev['served_vs_28px_max_abs_logit_diff']:.1e} over {ev['served_vs_28px_images']} images) and "
        f"{'the same' if ev['served_vs_28px_same_top_patches'] else 'NOT the same'} top rollout patches.",
        "",
    ]
    if s1:
        lines += [
            f"Stage 1 alone (7x7 grid, the 28-px model) on the full test split: accuracy {_pct(s1['accuracy'])}, "
            f"rollout on the garment {_pct(s1['rollout_on_garment'])} (chance {_pct(s1['rollout_chance'])}), "
            f"position neighbour minus same-ring-far {s1['pos_embed']['neighbour_minus_same_ring_far']:.3f} "
            f"(pattern {s1['pos_embed']['pattern']}; on a 7x7 grid every pair >= 5 apart lies on the border ring).",
            "",
        ]
    return lines


SERVED_TEXT = (
    "The served model reads a picture enlarged 8x (nearest) and copied into 3 channels: its 16x16 RGB patch kernel "
    "is the trained 2x2 grey kernel spread over 8x8-pixel blocks and the three channels, divided by 8·8·3, so every "
    "token, attention map and logit equals the 28-px model's (`export.spread_kernel`, proven by "
    "tests/research/test_fashion.py). A colour photo is therefore read as its channel mean. Fashion-MNIST "
    "pictures are negated product photos (light garment on black), centred and filling the frame; other pictures "
    "are far from what the model has seen."
)


def card_markdown(card: dict) -> str:
    """The Markdown card from the JSON card."""
    ev, stages = card["evaluation"], card["training"]["stages"]
    grid = card["model_args"]["img_size"] // card["model_args"]["patch_size"]
    curve = [(i, row) for i, st in enumerate(stages, 1) for row in st["val"]]
    lines = [
        *_header(card),
        f"## Numbers ({ev['test_split']})",
        "",
        *_numbers(ev, grid),
        "",
        *_measurement_notes(ev),
        "## Training schedule",
        "",
        *[line for i, st in enumerate(stages, 1) for line in _stage_lines(i, st)],
        f"Every stage: {SCHEDULE}; augmentation: {AUGMENTATION}{' (and random erasing where a stage says so)' if any(st.get('random_erasing') for st in stages) else ''}. Batches are drawn from "
        "`default_rng([seed, step])`, so a run resumed with `--resume` replays the same data.",
        "",
        SERVED_TEXT,
        "",
        "## Reproduce",
        "",
        "```",
        *card["reproduce"],
        "```",
        "",
        "## Position embeddings forming",
        "",
        f"![position embeddings over the {len(stages)} stages]({card['figure']['png']}) "
        f"(animated: `{card['figure']['gif']}`; from the runs' `pos_snapshots/`, every 100 steps, "
        "drawn by `vitviz.research.card.save_pos_embed_figure`)",
        "",
        "## Validation accuracy during training (last 5,000 train images, never trained on)",
        "",
        "| stage | step | validation accuracy | training minutes |",
        "|---|---|---|---|",
        *[f"| {i} | {s:,} | {a:.4f} | {t / 60:.0f} |" for i, (s, a, t) in curve],
        "",
        "## What was tried",
        "",
        card["notes"],
        "",
    ]
    return "\n".join(lines)
