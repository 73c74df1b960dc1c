"""Score every explanation method on freshly generated shapes, where the object is known.

    python -m vitviz.research.explanations --n 200 --seed 1234 --out docs/

Measures, per method (and a random-map baseline), averaged over N images:

* pointing game: the map's top patch lies on the object;
* energy: share of the map's mass on object patches (maps are min–max normalised to [0, 1],
  so all their mass is non-negative; an all-zero map counts as uniform);
* deletion / insertion AUC (vitviz.analysis.faithfulness), in pixel mode (patches greyed to the data
  mean) and token mode (patch tokens dropped).

A patch is "on the object" when at least `--object-threshold` (default 0.5) of its pixels
are object pixels in the generator's mask. Images are drawn at the model's input size and
only normalised (no resize or crop), so the mask lines up with the patch grid exactly.
Writes <out>/explanations.json and <out>/explanations.md.
"""
from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import shlex
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from vitviz.analysis import explain as ex
from vitviz.analysis import faithfulness as fa
from vitviz.core.images import normalise_pixels
from vitviz.core.model import EMBEDDED_MODEL, LoadedModel, embedded_model_available, load_model
from vitviz.research.shapes.generator import CLASS_NAMES, ShapesConfig, covered_patches, generate

RANDOM = "random"  # the baseline row: i.i.d. uniform patch scores


# --------------------------------------------------------------------------- measures

def pointing_hit(score: np.ndarray, on_object: np.ndarray) -> bool:
    """Whether the map's top patch (first in row-major order on ties) is an object patch."""
    return bool(on_object.ravel()[int(np.argmax(score))])


def energy(score: np.ndarray, on_object: np.ndarray) -> float:
    """Share of the map's non-negative mass on object patches; uniform for an all-zero map."""
    m = np.clip(np.nan_to_num(score.astype(np.float64)), 0, None)
    total = m.sum()
    return float(on_object.mean()) if total <= 0 else float(m[on_object].sum() / total)


# --------------------------------------------------------------------------- one run

@dataclass
class Settings:
    n: int = 200
    seed: int = 1234
    steps: int = 10
    modes: tuple[str, ...] = fa.MODES
    fill: str = "mean"
    ig_steps: int = 16
    object_threshold: float = 0.5
    target: str = "auto"  # "label", "predicted", or "auto": label when the classes are the shapes
    methods: tuple[str, ...] = tuple(ex.METHODS)
    # Model-randomisation check (Adebayo et al. 2018): also explain a randomly initialised copy;
    # localisation that survives random weights comes from the image, not from the model.
    control: bool = True
    chunk: int = 8  # images whose curves are computed together
    batch_size: int = 128  # perturbed inputs per forward


@dataclass
class Scores:
    """Per-image scores of one method (lists of length N)."""

    pointing: list[float] = field(default_factory=list)
    energy: list[float] = field(default_factory=list)
    auc: dict[str, list[float]] = field(default_factory=dict)  # "deletion/pixels" → AUCs
    seconds: list[float] = field(default_factory=list)
    control_pointing: list[float] = field(default_factory=list)  # the same, randomly initialised model
    control_energy: list[float] = field(default_factory=list)

    def summary(self) -> dict:
        out = {"pointing": _mean(self.pointing), "energy": _mean(self.energy)}
        if self.control_pointing:
            out["random_weights"] = {"pointing": _mean(self.control_pointing), "energy": _mean(self.control_energy)}
        out.update({k: _mean(v) for k, v in self.auc.items()})
        out["ms_per_image"] = 1000 * _mean(self.seconds)
        out["stderr"] = {k: _stderr(v) for k, v in [("pointing", self.pointing), ("energy", self.energy),
                                                      *self.auc.items()]}
        return out


def _mean(v: Sequence[float]) -> float:
    return float(np.mean(v)) if len(v) else float("nan")


def _stderr(v: Sequence[float]) -> float:
    return float(np.std(v, ddof=1) / np.sqrt(len(v))) if len(v) > 1 else float("nan")


def sample_input(loaded: LoadedModel, image: np.ndarray) -> torch.Tensor:
    """(H, W, 3) uint8 at the model's input size → (1, 3, H, W) normalised, no resize or crop."""
    return normalise_pixels(image, loaded.data_config["mean"], loaded.data_config["std"]).unsqueeze(0)


def fused_copy(loaded: LoadedModel) -> LoadedModel:
    """A private copy of the model with timm's fused attention (~2× faster forwards) for the
    curves, which need no attention probabilities; the shared instance is left as it is."""
    model = copy.deepcopy(loaded.model)
    for block in model.blocks:
        block.attn.fused_attn = True
    return dataclasses.replace(loaded, model=model)


def randomised_copy(loaded: LoadedModel, seed: int = 0) -> LoadedModel:
    """A copy of the model with the same architecture and fresh random weights (timm's own
    initialisation), for the model-randomisation check; the shared instance is left as it is."""
    model = copy.deepcopy(loaded.model)
    torch.manual_seed(seed)
    model.init_weights()
    return dataclasses.replace(loaded, model=model.eval())


def explain_methods(loaded: LoadedModel, fast: LoadedModel, x: torch.Tensor, target: int,
                    methods: Sequence[str], options: dict) -> dict[str, ex.Explanation]:
    """`explain_all`, with the methods that need no attention probabilities (Grad-CAM, Captum)
    run on the fused-attention copy: same maps up to float rounding, ~2× faster."""
    core = [m for m in methods if m in ex.CORE_METHODS]
    other = [m for m in methods if m not in ex.CORE_METHODS]
    out = ex.explain_all(loaded, x, target=target, methods=core, options=options) if core else {}
    out.update(ex.explain_all(fast, x, target=target, methods=other, options=options) if other else {})
    return {m: out[m] for m in methods}


def score_explanations(loaded: LoadedModel, settings: Settings = Settings(),
             progress: Callable[[int, int], None] | None = None) -> dict:
    """Score `settings.methods` and the random baseline on `settings.n` generated images → results dict."""
    info = loaded.info
    if info.input_size[1] != info.input_size[2] or info.patch_size[0] != info.patch_size[1]:
        raise ValueError("the shapes evaluation needs a square input and square patches")
    shapes_classes = len(loaded.class_names) == len(CLASS_NAMES)
    use_label = settings.target == "label" or (settings.target == "auto" and shapes_classes)
    fast = fused_copy(loaded)
    if settings.control:
        control = randomised_copy(loaded, settings.seed)
        control_fast = fused_copy(control)
    rng = np.random.default_rng(settings.seed)
    random_maps = np.random.default_rng([settings.seed, 1])
    config = ShapesConfig(image_size=info.input_size[1])
    names = (*settings.methods, RANDOM)
    scores = {m: Scores() for m in names}
    correct = 0
    object_share = []
    options = {"integrated_gradients": {"n_steps": settings.ig_steps}}
    start = time.perf_counter()
    for first in range(0, settings.n, settings.chunk):
        xs, all_maps, targets = [], [], []
        for _ in range(min(settings.chunk, settings.n - first)):
            sample = generate(rng, config)
            x = sample_input(loaded, sample.image)
            on_object = covered_patches(sample.mask, info.patch_size[0], settings.object_threshold)
            object_share.append(float(on_object.mean()))
            predicted = ex.top_class(loaded, x)
            correct += predicted == sample.label
            target = sample.label if use_label else predicted
            results = explain_methods(loaded, fast, x, target, settings.methods, options)
            maps = {m: e.map for m, e in results.items()}
            maps[RANDOM] = random_maps.random(info.grid).astype(np.float32)
            for m, e in results.items():
                scores[m].seconds.append(e.seconds)
            for m, score in maps.items():
                scores[m].pointing.append(float(pointing_hit(score, on_object)))
                scores[m].energy.append(energy(score, on_object))
            if settings.control:
                for m, e in explain_methods(control, control_fast, x, target, settings.methods, options).items():
                    scores[m].control_pointing.append(float(pointing_hit(e.map, on_object)))
                    scores[m].control_energy.append(energy(e.map, on_object))
            xs.append(x)
            all_maps.append(maps)
            targets.append(target)
        # Curves of a chunk of images together: token mode batches rows of equal length across images.
        for image_curves in fa.curves_batch(fast, torch.cat(xs), all_maps, targets, modes=settings.modes,
                                            steps=settings.steps, fill=settings.fill,
                                            batch_size=settings.batch_size):
            for c in image_curves:
                scores[c.method].auc.setdefault(f"{c.kind}/{c.mode}", []).append(c.auc)
        if progress is not None:
            progress(first + len(xs), settings.n)
    return {
        "model": info.name,
        "source": loaded.source,
        "n": settings.n,
        "seed": settings.seed,
        "settings": dataclasses.asdict(settings),
        "target": "label" if use_label else "predicted",
        "accuracy": correct / max(settings.n, 1) if shapes_classes else None,
        "object_patch_share": _mean(object_share),
        "seconds": time.perf_counter() - start,
        "methods": {m: s.summary() for m, s in scores.items()},
    }


# --------------------------------------------------------------------------- reporting

COLUMNS = (  # (key, header, higher is better)
    ("pointing", "pointing ↑", True),
    ("energy", "energy ↑", True),
    ("deletion/pixels", "deletion AUC px ↓", False),
    ("insertion/pixels", "insertion AUC px ↑", True),
    ("deletion/tokens", "deletion AUC tok ↓", False),
    ("insertion/tokens", "insertion AUC tok ↑", True),
)


def _columns(results: dict) -> list[tuple[str, str, bool]]:
    first = next(iter(results["methods"].values()))
    return [c for c in COLUMNS if c[0] in first]


def best(results: dict, key: str, higher: bool) -> str:
    """The method (random baseline excluded) with the best mean on `key`."""
    rows = {m: s[key] for m, s in results["methods"].items() if m != RANDOM}
    return (max if higher else min)(rows, key=rows.get)


def table(results: dict, markdown: bool = True) -> str:
    """The results table: one row per method, best non-random value in bold (Markdown)."""
    cols = _columns(results)
    winners = {k: best(results, k, hi) for k, _, hi in cols}
    header = ["method", *[h for _, h, _ in cols], "ms / image"]
    lines = []
    for m, s in results["methods"].items():
        cells = []
        for k, _, _ in cols:
            text = f"{s[k]:.3f}"
            cells.append(f"**{text}**" if markdown and winners[k] == m else text)
        ms = "—" if m == RANDOM else f"{s['ms_per_image']:.0f}"
        lines.append([m, *cells, ms])
    if markdown:
        out = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|"]
        out += ["| " + " | ".join(row) + " |" for row in lines]
        return "\n".join(out)
    widths = [max(len(str(r[i])) for r in [header, *lines]) for i in range(len(header))]
    return "\n".join("  ".join(str(c).ljust(w) for c, w in zip(row, widths)) for row in [header, *lines])


def randomisation_table(results: dict) -> str:
    """Markdown: pointing and energy with the trained weights vs a randomly initialised copy."""
    rows = [(m, s) for m, s in results["methods"].items() if "random_weights" in s]
    if not rows:
        return ""
    out = ["| method | pointing, trained | pointing, random weights | energy, trained | energy, random weights |",
           "|---|---:|---:|---:|---:|"]
    out += [f"| {m} | {s['pointing']:.3f} | {s['random_weights']['pointing']:.3f} | {s['energy']:.3f} | "
            f"{s['random_weights']['energy']:.3f} |" for m, s in rows]
    return "\n".join(out)


def randomisation_section(results: dict) -> str:
    table_ = randomisation_table(results)
    if not table_:
        return ""
    return f"""
## Model-randomisation check

The same images and classes explained by a copy of the model with fresh random weights (timm's
initialisation; Adebayo et al. 2018, "Sanity checks for saliency maps"). A method whose scores
barely drop follows the image (one high-contrast object), not what the model learned.

{table_}
"""


def findings(results: dict) -> list[str]:
    """One sentence per measure: the winner, its margin over the random baseline."""
    rand = results["methods"][RANDOM]
    out = []
    for key, header, higher in _columns(results):
        m = best(results, key, higher)
        s = results["methods"][m]
        runner = sorted((v[key] for k, v in results["methods"].items() if k not in (m, RANDOM)), reverse=higher)
        second = f", next best {runner[0]:.3f}" if runner else ""
        beaten = rand[key] > s[key] if higher else rand[key] < s[key]
        out.append(f"- **{header.split(' ')[0] if key in ('pointing', 'energy') else header.rsplit(' ', 1)[0]}**: "
                   f"`{m}` {s[key]:.3f} ± {s['stderr'][key]:.3f} (random {rand[key]:.3f}{second})."
                   + (" **A random order beats every method here**: the model's reaction to the partial input, "
                      "not the maps, decides this measure (see How to read this)." if beaten else ""))
    return out


METHODS_SECTION = """## Methods (vitviz.analysis.explain)

All maps are over the patch grid (gh × gw) and min–max normalised to [0, 1] per map (a constant
map becomes all zeros); higher means more important for the explained class.

| method | what it is | class-specific |
|---|---|---|
| `rollout` | attention rollout (Abnar & Zuidema 2020): mean over heads, (A + I)/2 per layer, readout row | no |
| `head_rollout` | per-head rollout at the last layer, max over heads (the mean over heads equals `rollout`) | no |
| `relevance` | gradient-weighted attention relevance (Chefer, Gur & Wolf 2021) | yes |
| `cls_attention` | the last layer's attention from the readout (CLS) token, mean over heads | no |
| `gradcam` | Grad-CAM (pytorch_grad_cam) on the last block's `norm1`, prefix tokens dropped | yes |
| `eigencam` | EigenCAM (pytorch_grad_cam), same layer: first principal component of the tokens | no |
| `integrated_gradients` | Integrated Gradients (Captum) from the data-mean input, abs summed per patch | yes |
| `input_x_gradient` | Input × Gradient (Captum), abs summed per patch | yes |
| `random` | baseline: i.i.d. uniform patch scores | — |
"""


API_SECTION = """## Python API

```python
from vitviz.analysis import explain
from vitviz.analysis import faithfulness
e = explain.explain(loaded, image_or_input, "relevance", target=None)   # Explanation(method, target, map, seconds)
maps = explain.explain_all(loaded, image_or_input, target=None)        # {method: Explanation}; one shared capture
curves = faithfulness.curves(loaded, x, {m: e.map for m, e in maps.items()}, e.target,
                             modes=("pixels", "tokens"), steps=10, progress=print)  # [Curve(method, mode, kind, fractions, probs, auc)]
w = faithfulness.what_if(loaded, x, drop={0, 1, 2})                    # WhatIf(probs, rollout with NaN on dropped, kept, seconds)
logits = faithfulness.forward_with_tokens(loaded.model, x, keep)       # keep: (k,) or (B, k) patch indices
```
"""


def markdown(results: dict, command: str) -> str:
    """docs/explanations.md: the table, how it was made, and how to read it."""
    st = results["settings"]
    acc = "" if results["accuracy"] is None else f" The model classified {results['accuracy']:.1%} of these images correctly."
    modes = " and ".join(f"`{m}`" for m in st["modes"])
    return f"""# Explanation methods, side by side and scored

Generated by `{command}` — do not edit by hand; re-run the command.

Model: `{results['model']}`. {results['source']}
N = {results['n']} freshly generated shapes images (seed {results['seed']}); explained class: the
{'true label' if results['target'] == 'label' else 'top-1 prediction'}.{acc} Run time: {results['seconds']:.0f} s.

{table(results)}

Bold: best method on that measure (the random baseline is not a candidate). ± below is one
standard error over the N images.

{METHODS_SECTION}
{API_SECTION}
## Measures

- **pointing**: share of images whose map's top patch lies on the object. A patch is on the
  object when at least {st['object_threshold']:.0%} of its pixels are object pixels in the
  generator's mask; on average {results['object_patch_share']:.1%} of the patches are, which is
  what a random map scores.
- **energy**: share of the map's mass (maps min–max normalised to [0, 1]) on object patches.
  Min–max normalisation sets each map's lowest patch to 0, so a map with a high floor scores
  less than under raw values.
- **deletion / insertion AUC**: remove (deletion) or reveal (insertion) patches from the map's
  highest score down in {st['steps']} equal steps and record the softmax probability of the
  explained class; area under that curve over the fraction of patches, [0, 1]. Lower deletion
  and higher insertion are better. Modes: {modes}. `px`: the patch's pixels are set to the
  data {'mean (0 after normalisation)' if st['fill'] == 'mean' else 'blur'}; `tok`: the patch
  tokens are dropped from the sequence, the rest keep their own position embeddings.
- **ms / image**: wall time of each method on one image (the core methods share one hooked
  forward + backward, charged to `rollout`; Grad-CAM and Captum run on a fused-attention copy
  of the model, same maps, faster); Integrated Gradients with {st['ig_steps']} steps.

## Findings

{chr(10).join(findings(results))}
{randomisation_section(results)}
## How to read this

- The pixel-mode curves put grey patches into images the model never saw during training, so
  they measure the model's reaction to an unusual input as much as the map; token mode avoids
  that artefact but asks the model to work on a shorter sequence than it was trained on.
  A method that wins in one mode only should be read with that in mind. In token-mode
  insertion a random order can beat every map: it reveals patches spread over the whole image,
  background included, while a good map reveals the object alone first, a sequence unlike any
  the model saw in training.
- `eigencam` is class-agnostic (the first principal component of the last block's tokens) and
  its sign is arbitrary, so it can point at the background; `cls_attention` and `rollout` are
  class-agnostic too. `relevance`, `gradcam` and the Captum methods follow the explained class.
- Localisation is not proof that a map explains the *model*: a single high-contrast object
  dominates the image statistics. The model-randomisation check above shows how well each
  method localises with random weights; what survives it comes from the image. The
  deletion/insertion columns, which depend on the model's own outputs, are the better guide to
  faithfulness.
- Gradient methods (`integrated_gradients`, `input_x_gradient`) are scored by the absolute
  attribution per patch, which also counts evidence *against* the class.
- These are synthetic images with one object on a cluttered background: a method that does
  well here localises a single object well; it says nothing about multi-object scenes.
- Faithfulness (deletion/insertion) and localisation (pointing/energy) can disagree: a model
  may rely on object edges or on the background contrast, and a faithful map then shows that.
"""


def write(results: dict, out: Path, command: str) -> tuple[Path, Path]:
    out.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out / "explanations.json", out / "explanations.md"
    json_path.write_text(json.dumps(dict(results, command=command), indent=2) + "\n")
    md_path.write_text(markdown(results, command))
    return json_path, md_path


# --------------------------------------------------------------------------- command line

def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m vitviz.research.explanations", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=200, help="number of generated images")
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--out", default="docs/", help="directory for explanations.json and explanations.md")
    ap.add_argument("--model", default=EMBEDDED_MODEL, help="the embedded model or any timm ViT name")
    ap.add_argument("--checkpoint", default=None, help="local weights (.safetensors/.pth) for --model")
    ap.add_argument("--pretrained", action="store_true", help="timm hub weights for --model (needs network)")
    ap.add_argument("--steps", type=int, default=10, help="deletion/insertion steps")
    ap.add_argument("--modes", nargs="+", choices=fa.MODES, default=list(fa.MODES))
    ap.add_argument("--fill", choices=("mean", "blur"), default="mean", help="pixel-mode removal")
    ap.add_argument("--ig-steps", type=int, default=16, help="Integrated Gradients steps")
    ap.add_argument("--object-threshold", type=float, default=0.5)
    ap.add_argument("--target", choices=("auto", "label", "predicted"), default="auto")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's own choice)")
    ap.add_argument("--methods", nargs="+", choices=tuple(ex.METHODS), default=list(ex.METHODS))
    ap.add_argument("--control", action=argparse.BooleanOptionalAction, default=True,
                    help="model-randomisation check: also explain a randomly initialised copy")
    return ap.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.model == EMBEDDED_MODEL and args.checkpoint is None and not embedded_model_available():
        print(f"The embedded model's weights are not in vitviz/assets/models yet; pass --model NAME "
              f"(random init unless --checkpoint/--pretrained) to try the script.", file=sys.stderr)
        return 2
    if args.threads:
        torch.set_num_threads(args.threads)
    loaded = load_model(args.model, pretrained=args.pretrained, checkpoint=args.checkpoint)
    settings = Settings(n=args.n, seed=args.seed, steps=args.steps, modes=tuple(args.modes), fill=args.fill,
                        ig_steps=args.ig_steps, object_threshold=args.object_threshold, target=args.target,
                        methods=tuple(args.methods), control=args.control)
    start = time.perf_counter()

    def progress(done: int, total: int) -> None:  # called after each chunk of images
        elapsed = time.perf_counter() - start
        print(f"{done}/{total} images, {elapsed:.0f} s, ~{elapsed / done * (total - done):.0f} s left",
              file=sys.stderr, flush=True)

    results = score_explanations(loaded, settings, progress)
    command = "python -m vitviz.research.explanations " + shlex.join(argv if argv is not None else sys.argv[1:])
    json_path, md_path = write(results, Path(args.out), command)
    print(table(results, markdown=False))
    print(f"\nwrote {json_path} and {md_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
