"""The training script runs on a tiny configuration, checkpoints, resumes and exports."""

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from vitviz.analysis import attention as att
from vitviz.research.shapes import data, metrics, loop, train as T
from vitviz.research.shapes.generator import CLASS_NAMES, ShapesConfig, near_object_patches
from vitviz.research.shapes.model import build_model

ROOT = Path(__file__).resolve().parents[2]


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _run(args, tmp_path):
    return T.train(T.parse_args(["--tiny", "--no-progress", "--threads", "1", "--workers", "1",
                                 "--out", str(tmp_path / "run")] + args))


def test_lr_schedule():
    lrs = [loop.lr_at(s, 100, 1e-3, 10, 1e-5) for s in range(100)]
    assert lrs[0] == pytest.approx(1e-4) and lrs[9] == pytest.approx(1e-3)
    assert max(lrs) == pytest.approx(1e-3) and lrs[-1] < 2e-5
    assert all(a >= b for a, b in zip(lrs[10:], lrs[11:]))  # cosine decays monotonically


def test_batches_deterministic_and_worker_matches_inline():
    cfg = ShapesConfig(image_size=32)
    a = data.make_batch(3, 5, 4, cfg, 8)
    b = data.make_batch(3, 5, 4, cfg, 8)
    np.testing.assert_array_equal(a[1], b[1])
    stream = data.BatchStream(3, 4, 7, 4, cfg, 8, 0.0, 0.5, workers=2)
    try:
        for step in range(4, 7):
            got = stream.get(step)
            ref = data.make_batch(3, step, 4, cfg.replace(difficulty=data.difficulty_at(step, 7, 0.0, 0.5)), 8)
            assert got[0] == step
            np.testing.assert_array_equal(got[1], ref[1])
            np.testing.assert_array_equal(got[2], ref[2])
    finally:
        stream.close()


def test_train_checkpoint_resume_export(tmp_path):
    card = _run(["--steps", "4", "--snapshot-every", "2", "--eval-every", "2", "--log-every", "1"], tmp_path)
    run = tmp_path / "run"
    assert (run / "checkpoint.pt").exists()
    ck = torch.load(run / "checkpoint.pt", weights_only=False)
    assert ck["step"] == 4
    rows = _rows(run / "log.csv")
    assert [int(r["step"]) for r in rows] == [1, 2, 3, 4]
    assert all(np.isfinite(float(r["loss"])) for r in rows)
    assert sorted(p.name for p in (run / "pos_snapshots").glob("*.npy")) == [
        "step_000000.npy", "step_000002.npy", "step_000004.npy"]
    assert card["training"]["steps"] == 4

    # resume to 7 steps: continues from step 4, does not restart the log
    card2 = _run(["--steps", "7", "--resume", "--snapshot-every", "2", "--log-every", "1"], tmp_path)
    ck2 = torch.load(run / "checkpoint.pt", weights_only=False)
    assert ck2["step"] == 7 and ck2["images_seen"] == 7 * 8
    rows = _rows(run / "log.csv")
    assert [int(r["step"]) for r in rows] == list(range(1, 8))
    assert card2["training"]["images_seen"] == 56

    # the exported weights + card rebuild the model and give the same logits as the checkpoint
    card_j = json.loads((run / "vitviz-shapes.json").read_text())
    for key in ("model_args", "class_names", "pretrained_cfg", "generator", "training", "evaluation", "reproduce"):
        assert key in card_j
    assert card_j["class_names"] == list(CLASS_NAMES)
    pc = card_j["pretrained_cfg"]
    assert pc["input_size"] == [3, 32, 32] and pc["crop_pct"] == 1.0 and len(pc["mean"]) == 3
    from safetensors.torch import load_file
    sd = load_file(str(run / "vitviz-shapes.safetensors"))
    assert all(v.dtype == torch.float16 for v in sd.values())
    from timm.models.vision_transformer import VisionTransformer
    m = VisionTransformer(**card_j["model_args"])
    m.load_state_dict({k: v.float() for k, v in sd.items()})
    m.eval()
    ref = build_model(card_j["model_args"])
    ref.load_state_dict(ck2["model"])
    ref.eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(m(x), ref(x), atol=2e-2, rtol=2e-2)


def test_resume_is_exact(tmp_path):
    """7 steps straight == 4 steps + resume to 7 (data is a function of (seed, step))."""
    common = ["--snapshot-every", "0", "--eval-every", "0", "--workers", "0", "--no-amp", "--final-eval-images", "4"]
    a = T.train(T.parse_args(["--tiny", "--no-progress", "--threads", "1", "--out", str(tmp_path / "a"), "--steps", "7"] + common))
    T.train(T.parse_args(["--tiny", "--no-progress", "--threads", "1", "--out", str(tmp_path / "b"), "--steps", "7",
                          "--stop-at", "4"] + common))
    assert torch.load(tmp_path / "b" / "checkpoint.pt", weights_only=False)["step"] == 4
    T.train(T.parse_args(["--tiny", "--no-progress", "--threads", "1", "--out", str(tmp_path / "b"), "--steps", "7", "--resume"] + common))
    sa = torch.load(tmp_path / "a" / "checkpoint.pt", weights_only=False)["model"]
    sb = torch.load(tmp_path / "b" / "checkpoint.pt", weights_only=False)["model"]
    for k in sa:
        torch.testing.assert_close(sa[k], sb[k], atol=1e-5, rtol=1e-4)


def test_cli_module_runs(tmp_path):
    out = tmp_path / "cli"
    r = subprocess.run([sys.executable, "-m", "vitviz.research.shapes.train", "--tiny", "--steps", "2", "--out", str(out),
                        "--threads", "1", "--no-progress", "--export", str(tmp_path / "exp")],
                       cwd=ROOT, capture_output=True, text=True, timeout=120,
                       env={**__import__("os").environ, "PYTHONPATH": str(ROOT)})
    assert r.returncode == 0, r.stderr[-2000:]
    assert (tmp_path / "exp" / "vitviz-shapes.safetensors").exists()
    assert (tmp_path / "exp" / "vitviz-shapes.json").exists()


def test_rollout_and_object_patch_helpers():
    g = 8
    # rollout of attention that puts all mass on patch 5 (from every token): the top patch is 5
    n = g * g + 1
    a = torch.zeros(1, 2, n, n)
    a[:, :, :, 6] = 1.0  # every token attends to token 6 == patch 5
    fused = att.fuse_heads(torch.stack([a, a]), "mean")  # L, B, N, N
    rows = att.readout_rollout(fused, att.readout_weights(n, 1, "cls"))
    r = att.patch_columns(rows, (g, g))
    assert r.shape == (1, g, g) and int(r.flatten(1).argmax()) == 5
    # the batched readout rollout is the single-image rollout's CLS row, image by image
    b = torch.rand(3, 2, 2, n, n).softmax(-1)  # L, B, H, N, N
    batched = att.readout_rollout(att.fuse_heads(b, "mean"), att.readout_weights(n, 1, "cls"))
    for i in range(2):
        torch.testing.assert_close(batched[i], att.rollout(att.fuse_heads(b[:, i], "mean"))[0])
    m = np.zeros((32, 32), bool)
    m[0:8, 0:8] = True
    op = near_object_patches(m, 8)
    assert op[:2, :2].all() and op.sum() == 4
    assert near_object_patches(m, 8, dilate=0).sum() == 1 and near_object_patches(m, 8, dilate=2).sum() == 9


def test_training_rollout_is_the_product_rollout_of_a_capture():
    """The training metrics read attention through vitviz.core.capture and leave the model's
    fused-attention flags as they were."""
    torch.manual_seed(0)
    model = build_model({**metrics_model_args(), "img_size": 32, "patch_size": 8}).eval()
    flags = [blk.attn.fused_attn for blk in model.blocks]
    x = torch.randn(2, 3, 32, 32)
    logits, maps = metrics.rollout_batch(model, x)
    assert [blk.attn.fused_attn for blk in model.blocks] == flags
    from vitviz.core.capture import capture
    cap = capture(model, x)
    for i in range(2):
        attn = torch.stack([layer[i] for layer in cap.attention])  # L, H, N, N
        want = att.rollout(att.fuse_heads(attn, "mean"))[0, 1:].reshape(4, 4)
        torch.testing.assert_close(maps[i], want)
    torch.testing.assert_close(logits, cap.logits)


def metrics_model_args():
    from vitviz.research.shapes.model import default_model_args
    return default_model_args(embed_dim=32, depth=2, num_heads=2)


def test_init_from_starts_a_new_stage(tmp_path):
    _run(["--steps", "3", "--snapshot-every", "0", "--eval-every", "0", "--final-eval-images", "4"], tmp_path)
    card = T.train(T.parse_args(["--tiny", "--no-progress", "--threads", "1", "--out", str(tmp_path / "stage2"),
                                 "--steps", "2", "--seed", "1", "--curriculum-start", "1", "--snapshot-every", "0",
                                 "--eval-every", "0", "--final-eval-images", "4",
                                 "--init-from", str(tmp_path / "run" / "checkpoint.pt")]))
    tr = card["training"]
    assert tr["steps"] == 5 and tr["images_seen"] == 40 and len(tr["stages"]) == 2
    assert card["reproduce"].count("python -m vitviz.research.shapes.train") == 2 and "--init-from" in card["reproduce"]
    assert len(_rows(tmp_path / "stage2" / "log.csv")) >= 1


def test_init_from_a_smaller_image_interpolates_the_position_embedding(tmp_path):
    """Fine-tuning at a higher resolution (ViT paper 3.2): same patch, bigger grid, the learned
    position embeddings resized in 2D."""
    _run(["--steps", "2", "--snapshot-every", "0", "--eval-every", "0", "--final-eval-images", "4"], tmp_path)
    small = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=False)["model"]["pos_embed"]  # 1, 1 + 4*4, C
    card = T.train(T.parse_args(["--tiny", "--img-size", "64", "--no-progress", "--threads", "1",
                                 "--out", str(tmp_path / "big"), "--steps", "1", "--lr", "0", "--warmup", "0",
                                 "--min-lr", "0", "--snapshot-every", "0", "--eval-every", "0",
                                 "--final-eval-images", "4", "--init-from", str(tmp_path / "run" / "checkpoint.pt")]))
    big = torch.load(tmp_path / "big" / "checkpoint.pt", weights_only=False)["model"]["pos_embed"]
    assert card["model_args"]["img_size"] == 64 and big.shape == (1, 1 + 8 * 8, small.shape[-1])
    torch.testing.assert_close(big[:, 0], small[:, 0])  # the CLS position is not part of the grid
    want = torch.nn.functional.interpolate(small[:, 1:].reshape(1, 4, 4, -1).permute(0, 3, 1, 2), size=(8, 8),
                                           mode="bicubic", antialias=True, align_corners=False)
    torch.testing.assert_close(big[:, 1:], want.permute(0, 2, 3, 1).reshape(1, 64, -1))


def test_card_gathers_the_learning_curve_of_every_stage(tmp_path):
    from vitviz.research import card as C
    _run(["--steps", "4", "--log-every", "2", "--eval-every", "2", "--eval-images", "4", "--snapshot-every", "0",
          "--final-eval-images", "4"], tmp_path)
    T.train(T.parse_args(["--tiny", "--no-progress", "--threads", "1", "--out", str(tmp_path / "stage2"),
                          "--steps", "4", "--stop-at", "2", "--log-every", "2", "--snapshot-every", "0",
                          "--eval-every", "0", "--final-eval-images", "4", "--export", str(tmp_path / "assets"),
                          "--init-from", str(tmp_path / "run" / "checkpoint.pt")]))
    card_path = tmp_path / "assets" / "vitviz-shapes.json"
    assert C.main([str(tmp_path / "run"), str(tmp_path / "stage2"), "--card", str(card_path)]) == 0
    card = json.loads(card_path.read_text())
    steps = [row[0] for row in card["learning_curve"]["train"]]
    assert steps == sorted(steps) and steps[-1] == 6  # 4 steps, then 2 of a 4-step schedule
    assert [row[0] for row in card["learning_curve"]["eval"]] == [2]
    assert card["reproduce"].endswith("--stop-at 2")
    md = (tmp_path / "assets" / "vitviz-shapes.md").read_text()
    assert f"**{card['evaluation']['accuracy']:.3f}**" in md and md.count("python -m vitviz.research.shapes.train") == 2


def test_position_embedding_figure_spans_every_stage(tmp_path):
    from PIL import Image
    from vitviz.research import card as C
    _run(["--steps", "4", "--log-every", "2", "--snapshot-every", "2", "--eval-every", "0",
          "--final-eval-images", "4"], tmp_path)
    T.train(T.parse_args(["--tiny", "--img-size", "64", "--no-progress", "--threads", "1", "--out",
                          str(tmp_path / "big"), "--steps", "2", "--log-every", "2", "--snapshot-every", "2",
                          "--eval-every", "0", "--final-eval-images", "4",
                          "--init-from", str(tmp_path / "run" / "checkpoint.pt")]))
    assert [step for _, step, _ in C._snapshots([tmp_path / "run", tmp_path / "big"])] == [0, 2, 4, 4, 6]
    png, gif = C.save_pos_embed_figure([tmp_path / "run", tmp_path / "big"], tmp_path / "pe")
    with Image.open(gif) as g:
        assert g.n_frames == 5  # one frame per snapshot (PIL merges the held copies of the last one)
    assert Image.open(png).height == 4 * Image.open(gif).height


def test_markdown_card_names_a_distance_from_centre_code_only_when_the_numbers_show_one():
    from vitviz.research.card import card_markdown
    card = json.loads((Path(__file__).resolve().parents[2] / "vitviz" / "assets" / "models" / "vitviz-shapes.json").read_text())
    ev = card["evaluation"]
    radial = {**ev, "pos_embed_neighbour_cos": 0.84, "pos_embed_far_cos": 0.17, "pos_embed_same_ring_far_cos": 0.85}
    grid = {**ev, "pos_embed_neighbour_cos": 0.84, "pos_embed_far_cos": 0.17, "pos_embed_same_ring_far_cos": 0.20}
    assert "distance from the centre" in card_markdown({**card, "evaluation": radial})
    assert "distance from the centre" not in card_markdown({**card, "evaluation": grid}).split("## Reproduce")[0]
