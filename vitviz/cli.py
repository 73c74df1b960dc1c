"""Command line: `python -m vitviz IMAGE` writes the figures and analysis.npz, prints the top 5."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

MODELS_DIR = Path(__file__).parent / "assets" / "models"  # read without importing torch: --help stays instant


def embedded_names() -> list[str]:
    return sorted(p.stem for p in MODELS_DIR.glob("vitviz-*.json"))


def default_model() -> tuple[str, str]:
    """(name, why): VITVIZ_MODEL, else the embedded model the app starts with offline (the one
    whose position embeddings form the clearest 2D grid, `offline_default.choose`)."""
    if os.environ.get("VITVIZ_MODEL", "").strip():
        return os.environ["VITVIZ_MODEL"].strip(), "chosen by the VITVIZ_MODEL setting"
    from vitviz import load_model
    from vitviz.analysis import offline_default
    from vitviz.core.model import embedded_models

    names = embedded_models()
    if len(names) < 2:
        return (names or ["vitviz-shapes"])[0], "the embedded model"
    return offline_default.choose(names, load_model)[:2]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="vitviz", description="Open up a Vision Transformer: analyse one image.")
    p.add_argument("image", help="image file (PNG, JPEG, WebP, GIF, BMP, TIFF)")
    p.add_argument("--model", help=f"a timm ViT name or an embedded model ({', '.join(embedded_names())}); default: "
                                   "$VITVIZ_MODEL, else the embedded model the app starts with offline")
    p.add_argument("--checkpoint", help="local .safetensors/.pth weights for --model")
    p.add_argument("--no-pretrained", action="store_true", help="random weights instead of the hub's pretrained ones")
    p.add_argument("--fusion", choices=("mean", "max", "min"), default="mean", help="how rollout fuses heads")
    p.add_argument("--discard", type=float, default=0.0, metavar="RATIO", help="rollout discard ratio in [0, 1)")
    p.add_argument("--out", default="vitviz-out", metavar="DIR", help="output folder (default: vitviz-out)")
    p.add_argument("--handout", metavar="FILE.html",
                   help="also write the lesson as one self-contained, printable HTML file (one step per page)")
    p.add_argument("--lang", choices=("en", "zh"), default="en", help="language of the figures' labels and the handout (default: en)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not 0 <= args.discard < 1:
        print("vitviz: error: --discard must be in [0, 1).", file=sys.stderr)
        return 2
    # Imported here so --help is instant.
    from vitviz import ImageError, ModelLoadError, analyze, load_model
    from vitviz.views.figures import save_figures
    from vitviz.core.runtime import return_large_buffers_to_os

    return_large_buffers_to_os()

    try:
        if args.model is None:
            args.model, why = default_model()
            print(f"model {args.model}: {why}")
        loaded = load_model(args.model, pretrained=not args.no_pretrained, checkpoint=args.checkpoint)
        result = analyze(loaded, args.image, fusion=args.fusion, discard_ratio=args.discard)
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        figures = save_figures(result, out, args.lang)
        npz = result.save_npz(out / "analysis.npz")
        handout = write_handout(result, loaded, args.handout, args.lang) if args.handout else None
    except (ImageError, ModelLoadError, OSError, ValueError) as exc:
        print(f"vitviz: error: {exc}", file=sys.stderr)
        return 1
    info = result.info
    print(f"model: {loaded.source}")
    for note in result.notes:
        print(f"note: {note}")
    print(f"input {tuple(info.input_size[1:]) + (3,)} -> {info.grid[0]}x{info.grid[1]} patches of "
          f"{info.patch_size[0]}x{info.patch_size[1]} px -> {info.num_tokens} tokens "
          f"({', '.join(info.prefix_names) or 'no prefix tokens'}) x {info.embed_dim} -> "
          f"{info.depth} blocks x {info.num_heads} heads")
    if result.predictions:
        print("top-5:")
        for rank, p in enumerate(result.predictions, 1):
            print(f"  {rank}. {p.probability:7.2%}  {p.name}  (class {p.index})")
    else:
        print("this model has no classifier head: no predictions")
    print(f"wrote {len(figures)} figures and {npz.name} to {out}")
    if handout is not None:
        print(f"wrote the handout ({handout[1]} steps) to {handout[0]}")
    return 0


def write_handout(result, loaded, path: str, lang: str) -> tuple[Path, int]:
    """The lesson of `result` as one printable HTML file at `path` → (path, number of steps)."""
    from vitviz.views.handout import lesson_handout

    page, n = lesson_handout(result, loaded, lang)
    target = Path(path)
    if target.parent != Path(""):
        target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(page, encoding="utf-8")
    return target, n
