"""The command line: figures + NPZ on success; one line on stderr and non-zero exit on bad input."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent


def run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "vitviz", *args], capture_output=True, text=True,
                          cwd=cwd or ROOT, timeout=300)


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory, photo):
    d = tmp_path_factory.mktemp("cli")
    Image.fromarray(photo).save(d / "in.png")
    proc = run(str(d / "in.png"), "--model", "vit_tiny_patch16_224", "--no-pretrained",
               "--fusion", "max", "--discard", "0.5", "--out", str(d / "out"), "--handout", str(d / "out" / "lesson.html"))
    return proc, d / "out"


def test_cli_succeeds_and_prints_top5(cli_run):
    proc, _ = cli_run
    assert proc.returncode == 0, proc.stderr
    assert "top-5:" in proc.stdout and proc.stdout.count("(class ") == 5


def test_cli_writes_figures(cli_run):
    _, out = cli_run
    for name in ("patch_grid", "pos_similarity", "cls_attention", "rollout", "head_rollout"):
        assert Image.open(out / f"{name}.png").size[0] > 100


def test_cli_npz_has_documented_keys_shapes_and_meta(cli_run):
    _, out = cli_run
    with np.load(out / "analysis.npz") as z:
        shapes = {k: z[k].shape for k in z.files}
        dtypes = {k: z[k].dtype for k in z.files}
        meta = json.loads(str(z["meta"]))
    assert shapes["input"] == (3, 224, 224) and dtypes["input"] == np.float32
    assert shapes["logits"] == (1000,)
    assert shapes["attention"] == (12, 3, 197, 197)
    assert shapes["cls_attention"] == shapes["head_rollout"] == (12, 3, 14, 14)
    assert shapes["rollout"] == (14, 14) and shapes["pos_similarity"] == (196, 14, 14)
    assert shapes["attention_distance"] == (12, 3)
    assert meta["fusion"] == "max" and meta["discard_ratio"] == 0.5 and meta["patch_size"] == [16, 16]


@pytest.mark.slow
def test_cli_writes_the_handout_one_section_per_step_images_inlined(cli_run):
    import re

    proc, out = cli_run
    assert proc.returncode == 0, proc.stderr
    page = (out / "lesson.html").read_text(encoding="utf-8")
    steps = page.count('<section class="step"')
    assert steps == 14 and "wrote the handout (14 steps)" in proc.stdout
    assert page.count('src="data:image/png;base64,') == steps  # every step's figure, inlined
    assert not re.search(r'(src|href)="(?!data:)', page)  # nothing else to fetch
    assert "(3, 1, 3, 197, 64)" in page and "break-after: page" in page
    assert (out / "analysis.npz").is_file() and (out / "rollout.png").is_file()  # the usual output too


@pytest.mark.parametrize("content", [b"", b"this is text, not an image"])
def test_cli_bad_image_is_one_line_on_stderr(tmp_path, content):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(content)
    proc = run(str(bad), "--model", "vit_tiny_patch16_224", "--no-pretrained", "--out", str(tmp_path / "o"))
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_cli_unknown_model_is_one_line_on_stderr(tmp_path, photo):
    Image.fromarray(photo).save(tmp_path / "in.png")
    proc = run(str(tmp_path / "in.png"), "--model", "resnet50", "--no-pretrained")
    assert proc.returncode == 1 and "not a plain Vision Transformer" in proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_without_model_the_cli_uses_the_apps_offline_default(monkeypatch):
    """vitviz-fashion: its position embeddings form a grid, vitviz-shapes' rings (the app's choice offline)."""
    from vitviz import cli

    monkeypatch.delenv("VITVIZ_MODEL", raising=False)
    name, why = cli.default_model()
    assert name == "vitviz-fashion" and "grid" in why
    assert set(cli.embedded_names()) >= {"vitviz-fashion", "vitviz-shapes"}
    monkeypatch.setenv("VITVIZ_MODEL", "vit_tiny_patch16_224")
    assert cli.default_model()[0] == "vit_tiny_patch16_224"
