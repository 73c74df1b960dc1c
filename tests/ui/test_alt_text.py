"""Every picture the server draws carries alt text: what it shows (its label), for which model and image."""
from __future__ import annotations

import gradio as gr
import numpy as np

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
    assert out["alt_text"] == P.alt_text("img_pos_all", "zh", sess) and out["value"] is pic
    relabelled = page.described(picture, gr.update(label="x", value=pic), s, sess)
    assert relabelled["label"] == "x" and "cat.png" in relabelled["alt_text"]
    assert page.described(other, pic, s, sess) is pic  # not a section's picture
    assert page.described(picture, None, s, sess) is None  # cleared: nothing to describe
