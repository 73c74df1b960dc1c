"""Every picture the server draws carries alt text: what it shows (its label), for which model and image."""
from __future__ import annotations

from pathlib import Path

import gradio as gr
import numpy as np
from PIL import Image

from vitviz.ui import page as P


def test_the_alt_text_names_what_the_picture_shows_the_model_and_the_image(monkeypatch, tiny, tiny_analysis):
    monkeypatch.setattr(P, "info_of", lambda sess: tiny.info)
    sess = P.Session(analysis=tiny_analysis, image_path="/tmp/upload/cat.png")
    en, zh = (P.alt_text("img_pos_all", lang, sess) for lang in ("en", "zh"))
    for text in (en, zh):
        assert "vit_tiny_patch16_224" in text and "cat.png" in text and "14×14" in text
    assert en.startswith("Position-embedding similarity") and zh != en


def test_a_new_picture_gets_its_alt_text_and_other_values_pass_unchanged(monkeypatch, tiny, tiny_analysis):
    monkeypatch.setattr(P, "info_of", lambda sess: tiny.info)
    sess, s = P.Session(analysis=tiny_analysis, image_path="/tmp/upload/cat.png"), P.settings(lang="zh")
    page, picture, other = P.Page(), gr.Image(), gr.Image()
    page.name_pictures({"pos": picture, "md": gr.Markdown()}, {"pos": "img_pos_all", "md": "sec_a"})
    pic = np.zeros((4, 4, 3), np.uint8)
    out = page.described(picture, pic, s, sess)
    assert out["alt_text"] == P.alt_text("img_pos_all", "zh", sess)
    assert np.array_equal(np.asarray(Image.open(out["value"])), pic)  # the finished file of the picture
    relabelled = page.described(picture, gr.update(label="x", value=pic), s, sess)
    assert relabelled["label"] == "x" and "cat.png" in relabelled["alt_text"]
    assert page.described(other, pic, s, sess) is pic  # not a section's picture
    assert page.described(picture, None, s, sess) is None  # cleared: nothing to describe


def test_a_described_picture_reaches_gradio_as_a_file_it_serves_untouched(monkeypatch, tmp_path, tiny, tiny_analysis):
    """gradio draws an update with a gr.Image rebuilt from the constructor's arguments, so the instance's
    atomic, fast writer (gradio_fixes.serve_outputs_atomically) would be skipped for an array."""
    from gradio.blocks import postprocess_update_dict
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path))
    monkeypatch.setattr(P, "info_of", lambda sess: tiny.info)
    sess, s = P.Session(analysis=tiny_analysis, image_path="/tmp/upload/cat.png"), P.settings()
    page, picture = P.Page(), gr.Image(format="png")
    page.name_pictures({"pos": picture}, {"pos": "img_pos_all"})
    pic = np.random.default_rng(0).integers(0, 255, (16, 24, 3), dtype=np.uint8)
    update = page.described(picture, pic, s, sess)
    saved = Path(update["value"])
    saved.write_bytes(b"bytes a user is still downloading")
    rebuilt = gr.Image(**{**picture.constructor_args, "render": False})
    sent = postprocess_update_dict(rebuilt, dict(update), postprocess=True)
    assert Path(sent["value"]["path"]) == saved and saved.read_bytes() == b"bytes a user is still downloading"
