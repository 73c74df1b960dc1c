"""The status line says where the weights came from, and why the app started with them, in the tab's language."""
import re

import pytest
from safetensors.torch import save_file

import vitviz
from vitviz.analysis.offline_default import PositionStory
from vitviz.core.model import DefaultModel
from vitviz.views.provenance import REASON_ZH, source_sentences

LATIN_WORDS = re.compile(r"\b(with|weights|from|the|is|used|because|trained|offline)\b")


def test_random_weights_are_said_in_chinese_and_in_the_cores_english(tiny):
    said = source_sentences(tiny)
    assert said["en"] == tiny.source
    assert said["zh"].startswith(tiny.name) and "随机权重" in said["zh"] and not LATIN_WORDS.search(said["zh"])


def test_a_local_checkpoint_is_named_in_chinese(tiny, tmp_path):
    path = tmp_path / "mine.safetensors"
    save_file({k: v.contiguous() for k, v in tiny.model.state_dict().items()}, str(path))
    said = source_sentences(vitviz.load_model(tiny.name, checkpoint=path))
    assert "本地检查点 mine.safetensors" in said["zh"] and "mine.safetensors" in said["en"]


@pytest.mark.parametrize("name, data", [("vitviz-fashion", "Fashion-MNIST"), ("vitviz-shapes", "几何图形")])
def test_an_embedded_model_says_its_data_and_classes_in_chinese(name, data):
    loaded = vitviz.load_model(name)
    zh = source_sentences(loaded)["zh"]
    assert zh.startswith(name) and data in zh and "可离线使用" in zh and loaded.class_names[0] in zh
    assert not LATIN_WORDS.search(zh.replace(", ".join(loaded.class_names), ""))


@pytest.mark.parametrize("kind", sorted(set(REASON_ZH) - {"offline_ranked"}))
def test_every_start_up_reason_is_said_in_chinese(tiny, kind):
    said = source_sentences(tiny, DefaultModel(tiny.name, False, "an English reason", (kind, {})))
    assert said["en"].endswith(" Why this model: an English reason.")
    assert said["zh"].endswith(f"选用原因：{REASON_ZH[kind]}。")


def test_the_offline_ranking_gives_its_numbers_in_chinese(tiny):
    values = {"best": PositionStory("vitviz-fashion", "grid", 0.812),
              "others": [PositionStory("vitviz-shapes", "radial", 0.0321)]}
    zh = source_sentences(tiny, DefaultModel("vitviz-fashion", True, "ranked", ("offline_ranked", values)))["zh"]
    assert "选用 vitviz-fashion" in zh and "二维网格" in zh and "余弦之差 0.81；vitviz-shapes 为 0.03，同心方环）" in zh


def test_a_source_without_a_translation_stays_english(tiny):
    import dataclasses
    plain = dataclasses.replace(tiny, origin=("", {}))
    assert source_sentences(plain) == {"en": tiny.source}
    unknown = DefaultModel(tiny.name, False, "why", ("", {}))
    assert source_sentences(tiny, unknown) == {"en": tiny.source + " Why this model: why."}
