"""Every bad image, sent to the running app through gradio_client: one clear sentence or a note,
and the server keeps serving."""
import numpy as np
import pytest
from PIL import Image

from conftest import serve_app
from core.test_images import animation, assert_one_sentence, encode, noise, png_claiming_size

MODEL = "vit_tiny_patch16_224"

REFUSED = {
    "empty.png": lambda: b"",
    "text.jpg": lambda: b"just some text, not an image\n",
    "doc.pdf": lambda: b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n",
    "truncated.jpg": lambda: encode(noise((256, 256)), "JPEG")[:3000],
    "truncated.png": lambda: encode(noise((256, 256)), "PNG")[:5000],
    "bomb.png": lambda: png_claiming_size(30000, 30000),
    "strip.png": lambda: encode(noise((4000, 10)), "PNG"),
    "drawing.svg": lambda: b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>',
    "phone.heic": lambda: b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic",
}


def exif_rotated() -> bytes:
    exif = Image.Exif()
    exif[0x0112] = 6
    return encode(noise((64, 32)), "JPEG", exif=exif)


ACCEPTED = {  # file → a phrase its note must contain (None: no note expected)
    "one.png": (lambda: encode(noise((1, 1)), "PNG"), "Very small image"),
    "grey.png": (lambda: encode(noise((64, 48)).convert("L"), "PNG"), None),
    "grey_alpha.png": (lambda: encode(noise((64, 48)).convert("LA"), "PNG"), None),
    "palette.png": (lambda: encode(noise((64, 48)).convert("P"), "PNG", transparency=0), None),
    "rgba.png": (lambda: encode(Image.new("RGBA", (64, 48), (255, 0, 0, 0)), "PNG"), "composited onto white"),
    "cmyk.jpg": (lambda: encode(noise((64, 48)).convert("CMYK"), "JPEG"), "CMYK"),
    "deep.png": (lambda: encode(Image.fromarray(np.full((48, 64), 40000, np.uint16)), "PNG"), "16-bit"),
    "float.tiff": (lambda: encode(Image.fromarray(np.linspace(0, 5, 64 * 48, dtype=np.float32).reshape(48, 64)), "TIFF"), None),
    "rotated.jpg": (exif_rotated, "EXIF orientation"),
    "anim.gif": (lambda: encode(animation(5)[0], "GIF", save_all=True, append_images=animation(5)[1:]), "first of 5"),
    "anim.webp": (lambda: encode(animation(3)[0], "WEBP", save_all=True, append_images=animation(3)[1:], lossless=True), "first of 3"),
}


@pytest.fixture(scope="module")
def client():
    from gradio_client import Client
    url, demo = serve_app(MODEL)
    yield Client(url, verbose=False)
    demo.close()


def send(client, tmp_path, name: str, data: bytes):
    from gradio_client import handle_file
    path = tmp_path / name
    path.write_bytes(data)
    return client.predict(handle_file(str(path)), MODEL, True, api_name="/analyze")


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_bad_file_gets_one_sentence_and_server_keeps_serving(client, tmp_path, name):
    from gradio_client.exceptions import AppError
    with pytest.raises(AppError) as err:
        send(client, tmp_path, name, REFUSED[name]())
    assert_one_sentence(str(err.value))
    label, rollout, grid, meta = send(client, tmp_path, "fine.png", encode(noise((120, 90)), "PNG"))
    assert len(meta["predictions"]) == 5


@pytest.mark.parametrize("name", sorted(ACCEPTED))
def test_unusual_image_is_analysed_with_a_note(client, tmp_path, name):
    make, phrase = ACCEPTED[name]
    label, rollout, grid, meta = send(client, tmp_path, name, make())
    assert len(meta["predictions"]) == 5
    if phrase:
        assert any(phrase in note for note in meta["notes"]), meta["notes"]


def test_unknown_model_gets_one_sentence_and_the_app_keeps_serving(client, tmp_path):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError
    path = tmp_path / "ok.png"
    path.write_bytes(encode(noise((100, 100)), "PNG"))
    for bad in ("vit_nonexistent_model", "resnet50"):
        with pytest.raises(AppError) as err:
            client.predict(handle_file(str(path)), bad, True, api_name="/analyze")
        assert "Traceback" not in str(err.value) and "\n" not in str(err.value)
    assert client.predict(handle_file(str(path)), MODEL, True, api_name="/analyze")[3]["model"] == MODEL


def test_request_over_the_time_limit_gets_one_sentence(client, tmp_path, monkeypatch):
    from gradio_client.exceptions import AppError
    import vitviz.ui.page as ui_page
    monkeypatch.setattr(ui_page, "REQUEST_TIME_LIMIT_S", -1.0)  # every pass is already late
    with pytest.raises(AppError, match="ran past its time limit"):
        send(client, tmp_path, "slow.png", encode(noise((100, 100)), "PNG"))
    monkeypatch.undo()
    assert send(client, tmp_path, "fast.png", encode(noise((100, 100)), "PNG"))[3]["model"] == MODEL
