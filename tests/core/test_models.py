"""Loading: every ViT family reports its real geometry; bad names and checkpoints get one clear sentence."""
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

import vitviz
from vitviz import ModelLoadError

# name, kwargs, (input H, patch, grid, prefix tokens, depth, heads, readout)
FAMILIES = [
    ("vit_tiny_patch16_224", {}, (224, 16, 14, 1, 12, 3, "cls")),
    ("vit_small_patch16_224", {}, (224, 16, 14, 1, 12, 6, "cls")),
    ("vit_base_patch16_224", {}, (224, 16, 14, 1, 12, 12, "cls")),
    ("vit_base_patch32_224", {}, (224, 32, 7, 1, 12, 12, "cls")),
    ("vit_small_patch8_224", {}, (224, 8, 28, 1, 12, 6, "cls")),
    ("deit_tiny_distilled_patch16_224", {}, (224, 16, 14, 2, 12, 3, "cls")),
    ("vit_small_patch14_reg4_dinov2", {}, (518, 14, 37, 5, 12, 6, "cls")),
    ("vit_base_patch16_384", {}, (384, 16, 24, 1, 12, 12, "cls")),
    ("deit3_small_patch16_224", {}, (224, 16, 14, 1, 12, 6, "cls")),  # no_embed_class
    ("vit_medium_patch16_gap_256", {}, (256, 16, 16, 0, 12, 8, "avg")),  # class_token=False
]


@pytest.mark.parametrize("name,kwargs,expected", FAMILIES, ids=[f[0] for f in FAMILIES])
def test_family_geometry_and_analysis_shapes(name, kwargs, expected, photo):
    size, patch, grid, prefix, depth, heads, readout = expected
    loaded = vitviz.load_model(name, pretrained=False, **kwargs)
    info = loaded.info
    assert (info.input_size[1], info.patch_size, info.grid) == (size, (patch, patch), (grid, grid))
    assert (info.num_prefix_tokens, info.depth, info.num_heads, info.readout) == (prefix, depth, heads, readout)
    assert len(info.prefix_names) == prefix
    result = vitviz.analyze(loaded, photo)
    n, p = prefix + grid * grid, grid * grid
    assert result.input.shape == (3, size, size) and result.image.shape == (size, size, 3)
    assert result.attention.shape == (depth, heads, n, n)
    assert result.cls_attention.shape == result.head_rollout.shape == (depth, heads, grid, grid)
    assert result.rollout.shape == (grid, grid)
    assert result.pos_similarity.shape == (p, grid, grid)
    assert result.attention_distance.shape == (depth, heads)
    assert result.tokens.shape == (depth + 1, n, info.embed_dim)
    for a in (result.cls_attention, result.rollout, result.head_rollout, result.pos_similarity, result.attention_distance):
        assert np.isfinite(a).all()


def test_distilled_model_names_its_prefix_tokens():
    assert vitviz.load_model("deit_tiny_distilled_patch16_224", pretrained=False).info.prefix_names == ("CLS", "DIST")


def test_register_model_names_its_prefix_tokens():
    info = vitviz.load_model("vit_small_patch14_reg4_dinov2", pretrained=False, depth=1).info
    assert info.prefix_names == ("CLS", "REG1", "REG2", "REG3", "REG4")


def test_imagenet_head_gets_imagenet_names(tiny):
    assert len(tiny.class_names) == 1000 and tiny.class_names[1] == "goldfish, Carassius auratus"


def test_other_heads_get_numbered_names():
    loaded = vitviz.load_model("vit_tiny_patch16_224", pretrained=False, num_classes=7, depth=1)
    assert loaded.class_names == [f"class {i}" for i in range(7)]


@pytest.mark.parametrize("name", ["resnet50", "swin_tiny_patch4_window7_224", "convnext_tiny"])
def test_non_vit_architecture_is_refused_naming_what_is_supported(name):
    with pytest.raises(ModelLoadError, match="not a plain Vision Transformer.*supports timm Vision Transformers"):
        vitviz.load_model(name, pretrained=False)


def test_unknown_name_suggests_close_matches():
    with pytest.raises(ModelLoadError, match="Unknown model name 'vit_tiny_patch16_22'.*vit_tiny_patch16_224"):
        vitviz.load_model("vit_tiny_patch16_22", pretrained=False)


def test_attention_pooling_model_is_refused():
    with pytest.raises(ModelLoadError, match="pools its tokens with 'map'"):
        vitviz.load_model("vit_base_patch16_siglip_224", pretrained=False, depth=1)


def test_hub_unreachable_is_one_sentence(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import huggingface_hub.constants as hub_constants
    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(ModelLoadError) as err:
        vitviz.load_model("vit_tiny_patch16_224.augreg_in21k_ft_in1k", pretrained=True)
    message = str(err.value)
    assert "hub is unreachable" in message and "\n" not in message and "Traceback" not in message


def test_pretrained_path_loads_a_local_file_through_timm(tmp_path):
    """The hub code path, pointed at a local file: what a user online would get."""
    source = vitviz.load_model("vit_tiny_patch16_224", pretrained=False, depth=2)
    path = tmp_path / "weights.safetensors"
    save_file(source.model.state_dict(), str(path))
    loaded = vitviz.load_model("vit_tiny_patch16_224", pretrained=True, depth=2, pretrained_cfg_overlay=dict(file=str(path)))
    for k, v in source.model.state_dict().items():
        assert torch.equal(loaded.model.state_dict()[k], v)
    assert "pretrained" in loaded.source


def small_state(**kwargs):
    return vitviz.load_model("vit_tiny_patch16_224", pretrained=False, depth=2, **kwargs).model.state_dict()


def test_safetensors_checkpoint_round_trip(tmp_path):
    state = small_state()
    path = tmp_path / "m.safetensors"
    save_file(state, str(path))
    loaded = vitviz.load_model("vit_tiny_patch16_224", pretrained=True, checkpoint=path, depth=2)
    assert all(torch.equal(loaded.model.state_dict()[k], v) for k, v in state.items())
    assert "local checkpoint m.safetensors" in loaded.source


def test_pth_checkpoint_with_wrapper_loads(tmp_path):
    state = small_state()
    path = tmp_path / "m.pth"
    torch.save({"model": state, "epoch": 3}, path)
    loaded = vitviz.load_model("vit_tiny_patch16_224", checkpoint=path, depth=2)
    assert torch.equal(loaded.model.pos_embed, state["pos_embed"])


def test_checkpoint_missing_and_unexpected_keys_are_listed(tmp_path):
    state = small_state()
    state.pop("pos_embed")
    state["extra.weight"] = torch.zeros(1)
    path = tmp_path / "m.safetensors"
    save_file(state, str(path))
    with pytest.raises(ModelLoadError, match="missing keys: pos_embed; unexpected keys: extra.weight"):
        vitviz.load_model("vit_tiny_patch16_224", checkpoint=path, depth=2)


def test_checkpoint_of_wrong_shape_is_refused(tmp_path):
    path = tmp_path / "m.safetensors"
    save_file(vitviz.load_model("vit_small_patch16_224", pretrained=False, depth=2).model.state_dict(), str(path))
    with pytest.raises(ModelLoadError, match="does not fit vit_tiny_patch16_224: wrong shapes: "):
        vitviz.load_model("vit_tiny_patch16_224", checkpoint=path, depth=2)


class RunsCode:
    def __reduce__(self):
        return (Path("/tmp/vitviz-pwned").touch, ())


def test_pickle_that_would_run_code_is_refused(tmp_path):
    path = tmp_path / "evil.pth"
    with open(path, "wb") as f:
        pickle.dump({"pos_embed": RunsCode()}, f)
    with pytest.raises(ModelLoadError, match="Refused or could not read checkpoint evil.pth"):
        vitviz.load_model("vit_tiny_patch16_224", checkpoint=path, depth=2)
    assert not Path("/tmp/vitviz-pwned").exists()


def test_missing_checkpoint_file_is_one_sentence(tmp_path):
    with pytest.raises(ModelLoadError, match="Checkpoint file not found: nope.safetensors"):
        vitviz.load_model("vit_tiny_patch16_224", checkpoint=tmp_path / "nope.safetensors")


def test_input_size_follows_the_built_model_not_its_pretrained_config(photo):
    loaded = vitviz.load_model("vit_small_patch14_reg4_dinov2", pretrained=False, depth=1, img_size=224)
    assert loaded.info.input_size == (3, 224, 224) and loaded.info.grid == (16, 16)
    assert vitviz.analyze(loaded, photo).rollout.shape == (16, 16)


def test_default_model_follows_vitviz_model_setting():
    from vitviz.core.model import choose_default_model
    start = choose_default_model(env={"VITVIZ_MODEL": "deit_tiny_patch16_224", "VITVIZ_RANDOM_WEIGHTS": "1"},
                                 online=lambda: True)
    assert (start.name, start.pretrained) == ("deit_tiny_patch16_224", False) and "VITVIZ_MODEL" in start.reason


def test_default_model_is_pretrained_vit_when_hub_reachable():
    from vitviz.core.model import DEFAULT_PRETRAINED, choose_default_model
    start = choose_default_model(env={}, online=lambda: True)
    assert (start.name, start.pretrained) == (DEFAULT_PRETRAINED, True) and "reachable" in start.reason


def test_default_model_offline_without_embedded_weights_uses_random_tiny(monkeypatch, tmp_path):
    import vitviz.core.model as vm
    monkeypatch.setattr(vm, "MODELS_DIR", tmp_path)
    start = vm.choose_default_model(env={}, online=lambda: False)
    assert (start.name, start.pretrained) == ("vit_tiny_patch16_224", False) and "random" in start.reason


def test_hub_probe_respects_offline_setting(monkeypatch):
    import huggingface_hub.constants as hub_constants
    from vitviz.core.model import hub_reachable
    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", True)
    assert hub_reachable() is False


def test_every_card_with_weights_in_the_models_folder_is_an_embedded_model(tmp_path, monkeypatch):
    """A second embedded model is one card + one weights file: it loads by its name, offline, and is listed."""
    import shutil
    import vitviz.core.model as vm

    for suffix in (".json", ".safetensors"):
        shutil.copy(vm.MODELS_DIR / f"vitviz-shapes{suffix}", tmp_path / f"vitviz-copy{suffix}")
    shutil.copy(vm.MODELS_DIR / "vitviz-shapes.json", tmp_path / "vitviz-cardonly.json")  # no weights: not listed
    monkeypatch.setattr(vm, "MODELS_DIR", tmp_path)
    assert vm.embedded_models() == ["vitviz-copy"]
    loaded = vitviz.load_model("vitviz-copy", pretrained=False)  # embedded models always load their weights
    assert loaded.name == "vitviz-copy" and loaded.source.startswith("vitviz-copy: the small ViT")
    assert loaded.info.grid == (14, 14)
    with pytest.raises(ModelLoadError, match="vitviz-missing.json; embedded models here: vitviz-copy"):
        vitviz.load_model("vitviz-missing")
