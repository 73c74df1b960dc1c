"""Specification of vitviz.core.images.load_image.

Every test image is generated here (in memory or in tmp_path); no binary
fixtures are committed.
"""

from __future__ import annotations

import io
import re
import struct
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageFile

from vitviz.core import images
from vitviz.core.images import ImageError, LoadedImage, load_image

PLEASE_UPLOAD = "please upload PNG, JPEG, WebP, GIF, BMP or TIFF."


# --- helpers -----------------------------------------------------------------


def encode(im: Image.Image, fmt: str, **params) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **params)
    return buf.getvalue()


def noise(size: tuple[int, int], seed: int = 0) -> Image.Image:
    """Random RGB content: compresses badly, so truncation hits pixel data."""
    w, h = size
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_claiming_size(width: int, height: int) -> bytes:
    """A tiny, hand-made PNG whose IHDR claims width×height RGB pixels.

    Its IDAT only holds a few compressed rows, so decoding it would either
    allocate the full claimed size or fail as truncated.
    """
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    idat = zlib.compress(b"\x00" * 64)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")


def assert_one_sentence(message: str) -> None:
    """A user-facing message: one line, one sentence, no Python internals."""
    assert message and "\n" not in message
    assert message[0].isupper() or message[0] == "“", message
    assert message.endswith("."), message
    assert not re.search(r"[.!?] [A-Z]", message), f"more than one sentence: {message}"
    assert "Traceback" not in message and "object at 0x" not in message, message
    assert not re.search(r"\w+(Error|Exception|Warning)\b", message), message
    assert not re.search(r"<\w", message), message


def refusal(source) -> str:
    """Load `source`, expect an ImageError and return its (checked) message."""
    with pytest.raises(ImageError) as info:
        load_image(source)
    message = str(info.value)
    assert_one_sentence(message)
    return message


def assert_rgb(loaded: LoadedImage, size: tuple[int, int]) -> None:
    assert loaded.image.mode == "RGB"
    assert loaded.image.size == size
    assert np.asarray(loaded.image).dtype == np.uint8


# --- not an image, damaged, missing ----------------------------------------------


def test_empty_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "empty.png"
    path.write_bytes(b"")
    assert "empty" in refusal(path)


def test_empty_bytes_are_refused() -> None:
    assert "empty" in refusal(b"")


def test_text_file_is_not_an_image(tmp_path: Path) -> None:
    path = tmp_path / "notes.png"
    path.write_text("Just some text, not an image.\n")
    assert "not an image" in refusal(path)


def test_minimal_pdf_is_refused_as_a_document(tmp_path: Path) -> None:
    path = tmp_path / "doc.pdf"
    path.write_bytes(b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n")
    message = refusal(path)
    assert message.startswith("Unsupported format: PDF") and message.endswith(PLEASE_UPLOAD)


def test_truncated_jpeg_is_refused(tmp_path: Path) -> None:
    data = encode(noise((64, 64)), "JPEG", quality=95)
    path = tmp_path / "cut.jpg"
    path.write_bytes(data[: len(data) // 2])
    assert "damaged" in refusal(path)


def test_truncated_png_is_refused(tmp_path: Path) -> None:
    data = encode(noise((64, 64)), "PNG")
    path = tmp_path / "cut.png"
    path.write_bytes(data[: len(data) * 6 // 10])
    assert "damaged" in refusal(path)


def test_truncated_data_is_never_accepted_silently() -> None:
    data = encode(noise((64, 64)), "PNG")
    refusal(data[: len(data) // 2])
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


def test_missing_path_names_the_file(tmp_path: Path) -> None:
    message = refusal(tmp_path / "holiday.jpg")
    assert "holiday.jpg" in message and "does not exist" in message


def test_missing_path_as_str_is_refused(tmp_path: Path) -> None:
    assert "does not exist" in refusal(str(tmp_path / "nope.png"))


def test_directory_is_refused(tmp_path: Path) -> None:
    assert "not a file" in refusal(tmp_path)


def test_file_over_size_limit_is_refused_before_reading(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(images, "MAX_FILE_BYTES", 1000)
    path = tmp_path / "big.png"
    path.write_bytes(encode(noise((64, 64)), "PNG"))
    assert "too large" in refusal(path)


def test_unsupported_python_value_is_refused() -> None:
    assert "type int" in refusal(42)


# --- decompression bombs -----------------------------------------------------------


def test_bomb_png_claiming_30000x30000_is_refused_without_decoding(monkeypatch) -> None:
    decoded = []
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda self: decoded.append(self))
    data = png_claiming_size(30_000, 30_000)
    assert len(data) < 200
    assert "too large" in refusal(data)
    assert decoded == []


def test_png_over_max_pixels_but_under_pillows_limit_is_refused_by_size_check(monkeypatch) -> None:
    decoded = []
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda self: decoded.append(self))
    message = refusal(png_claiming_size(8000, 6000))  # 48 MP: Pillow itself would decode it
    assert "8000×6000" in message and "too large" in message
    assert decoded == []


def test_pillow_decompression_bomb_warning_does_not_slip_through() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert "too large" in refusal(png_claiming_size(10_000, 10_000))  # 100 MP: Pillow warns
    assert not [w for w in caught if issubclass(w.category, Image.DecompressionBombWarning)]


def test_process_wide_pillow_limits_are_left_alone() -> None:
    before = Image.MAX_IMAGE_PIXELS
    refusal(png_claiming_size(30_000, 30_000))
    assert Image.MAX_IMAGE_PIXELS == before
    assert images.MAX_PIXELS < Image.MAX_IMAGE_PIXELS


def test_large_jpeg_is_decoded_at_reduced_scale(monkeypatch) -> None:
    monkeypatch.setattr(images, "MAX_PIXELS", 10_000)
    loaded = load_image(encode(noise((200, 150)), "JPEG"))
    assert_rgb(loaded, (100, 75))
    assert loaded.source_size == (200, 150)
    assert "Large JPEG (200×150) decoded at reduced resolution (100×75)." in loaded.notes


def test_jpeg_too_large_even_at_one_eighth_scale_is_refused(monkeypatch) -> None:
    monkeypatch.setattr(images, "MAX_PIXELS", 100)
    assert "too large" in refusal(encode(noise((200, 150)), "JPEG"))  # 1/8 scale is still 25×19


def test_numpy_array_over_max_pixels_is_refused(monkeypatch) -> None:
    monkeypatch.setattr(images, "MAX_PIXELS", 100)
    assert "too large" in refusal(np.zeros((20, 20, 3), np.uint8))


# --- size and shape ----------------------------------------------------------------


@pytest.mark.parametrize("size", [(1, 1), (3, 2), (2, 3)])
def test_tiny_image_is_accepted_with_a_blurry_note(size: tuple[int, int]) -> None:
    loaded = load_image(encode(Image.new("RGB", size, "red"), "PNG"))
    assert_rgb(loaded, size)
    w, h = size
    assert f"Very small image ({w}×{h}): it will be upscaled, expect a blurry result." in loaded.notes


def test_normal_photo_gets_no_notes() -> None:
    loaded = load_image(encode(noise((300, 200)), "JPEG"))
    assert_rgb(loaded, (300, 200))
    assert loaded.notes == ()


def test_elongated_image_is_accepted_with_a_centre_crop_note() -> None:
    loaded = load_image(encode(Image.new("RGB", (1000, 50)), "PNG"))  # 20:1
    assert_rgb(loaded, (1000, 50))
    assert any("centre crop" in note and "5%" in note for note in loaded.notes)


def test_image_beyond_the_aspect_ratio_limit_is_refused() -> None:
    message = refusal(encode(Image.new("RGB", (4000, 10)), "PNG"))  # 400:1
    assert "too elongated" in message and "4000×10" in message


def test_aspect_ratio_limit_itself_is_accepted() -> None:
    side = int(images.MAX_ASPECT_RATIO)
    assert_rgb(load_image(Image.new("RGB", (side, 1))), (side, 1))


# --- colour modes --------------------------------------------------------------------


def test_greyscale_l_becomes_rgb_with_equal_channels() -> None:
    grey = Image.fromarray(np.arange(64, dtype=np.uint8).reshape(8, 8) * 4)
    loaded = load_image(encode(grey, "PNG"))
    assert_rgb(loaded, (8, 8))
    assert loaded.source_mode == "L"
    rgb = np.asarray(loaded.image)
    assert (rgb[..., 0] == np.asarray(grey)).all() and (rgb[..., 0] == rgb[..., 2]).all()


def test_bilevel_image_becomes_black_and_white_rgb() -> None:
    im = Image.new("1", (8, 4), 0)
    im.putpixel((1, 1), 1)
    loaded = load_image(encode(im, "PNG"))
    assert_rgb(loaded, (8, 4))
    assert loaded.source_mode == "1"
    assert loaded.image.getpixel((1, 1)) == (255, 255, 255) and loaded.image.getpixel((0, 0)) == (0, 0, 0)


def test_rgba_transparent_pixels_are_composited_onto_white() -> None:
    im = Image.new("RGBA", (4, 4), (255, 0, 0, 255))
    im.putpixel((0, 0), (0, 0, 255, 0))
    im.putpixel((1, 0), (0, 0, 0, 128))
    loaded = load_image(encode(im, "PNG"))
    assert_rgb(loaded, (4, 4))
    assert loaded.image.getpixel((0, 0)) == (255, 255, 255)
    assert loaded.image.getpixel((1, 0)) == pytest.approx((127, 127, 127), abs=1)
    assert loaded.image.getpixel((2, 2)) == (255, 0, 0)
    assert "Transparent pixels were composited onto white." in loaded.notes


def test_fully_opaque_alpha_is_dropped_without_a_note() -> None:
    loaded = load_image(encode(Image.new("RGBA", (40, 40), (1, 2, 3, 255)), "PNG"))
    assert loaded.image.getpixel((0, 0)) == (1, 2, 3)
    assert loaded.notes == ()


def test_greyscale_with_alpha_la_is_composited_onto_white() -> None:
    im = Image.new("LA", (4, 4), (0, 255))
    im.putpixel((3, 3), (0, 0))
    loaded = load_image(encode(im, "PNG"))
    assert_rgb(loaded, (4, 4))
    assert loaded.source_mode == "LA"
    assert loaded.image.getpixel((3, 3)) == (255, 255, 255) and loaded.image.getpixel((0, 0)) == (0, 0, 0)


def test_palette_image_with_transparency_is_composited_onto_white() -> None:
    im = Image.new("P", (4, 4), 1)
    im.putpalette([0, 0, 0, 0, 128, 0] + [0] * 762)
    im.putpixel((0, 0), 0)
    loaded = load_image(encode(im, "PNG", transparency=0))
    assert_rgb(loaded, (4, 4))
    assert loaded.source_mode == "P"
    assert loaded.image.getpixel((0, 0)) == (255, 255, 255)
    assert loaded.image.getpixel((1, 1)) == (0, 128, 0)
    assert "Transparent pixels were composited onto white." in loaded.notes


def test_cmyk_jpeg_is_converted_with_a_note() -> None:
    loaded = load_image(encode(Image.new("CMYK", (16, 16), (0, 255, 255, 0)), "JPEG", quality=95))
    assert_rgb(loaded, (16, 16))
    assert loaded.source_mode == "CMYK"
    r, g, b = loaded.image.getpixel((8, 8))
    assert r > 200 and g < 60 and b < 60  # CMYK (0, 100%, 100%, 0) is red
    assert "Converted from CMYK to RGB." in loaded.notes


def test_16bit_png_is_scaled_to_8_bits_not_clipped() -> None:
    values = np.array([[0, 257, 32896, 65535]], dtype=np.uint16)
    loaded = load_image(encode(Image.fromarray(values), "PNG"))
    assert loaded.source_mode == "I;16"
    assert_rgb(loaded, (4, 1))
    assert [loaded.image.getpixel((x, 0))[0] for x in range(4)] == [0, 1, 128, 255]
    assert "16-bit image scaled to 8 bits." in loaded.notes


def test_32bit_integer_image_is_stretched_to_8_bits() -> None:
    values = np.array([[-1000, 0, 1000]], dtype=np.int32)
    loaded = load_image(Image.fromarray(values))
    assert loaded.source_mode == "I"
    assert_rgb(loaded, (3, 1))
    assert [loaded.image.getpixel((x, 0))[0] for x in range(3)] == [0, 128, 255]
    assert any(note.startswith("32-bit integer image") for note in loaded.notes)


def test_float_tiff_is_stretched_min_max_to_8_bits(tmp_path: Path) -> None:
    values = np.array([[-0.5, 0.25, 1.0], [2.5, 1.0, -0.5]], dtype=np.float32)
    path = tmp_path / "depth.tif"
    Image.fromarray(values).save(path)
    loaded = load_image(path)
    assert loaded.source_mode == "F"
    assert_rgb(loaded, (3, 2))
    assert loaded.image.getpixel((0, 0))[0] == 0 and loaded.image.getpixel((0, 1))[0] == 255
    assert loaded.image.getpixel((1, 0))[0] == round(0.75 / 3 * 255)
    assert "Floating-point image: values from -0.5 to 2.5 were stretched to 0–255." in loaded.notes


def test_constant_float_image_keeps_its_value() -> None:
    loaded = load_image(Image.fromarray(np.full((2, 2), 7.0, dtype=np.float32)))
    assert loaded.image.getpixel((0, 0)) == (7, 7, 7)


def test_float_image_with_nan_and_inf_still_loads() -> None:
    values = np.array([[np.nan, 0.0, np.inf, 1.0]], dtype=np.float32)
    loaded = load_image(Image.fromarray(values))
    assert [loaded.image.getpixel((x, 0))[0] for x in range(4)] == [0, 0, 0, 255]


# --- orientation and frames ---------------------------------------------------------


def test_exif_orientation_6_is_honoured(tmp_path: Path) -> None:
    stored = Image.new("RGB", (40, 20), "white")
    stored.paste((255, 0, 0), (0, 0, 4, 4))  # mark the stored top-left corner
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    path = tmp_path / "phone.jpg"
    stored.save(path, "JPEG", quality=95, exif=exif)
    loaded = load_image(path)
    assert loaded.source_size == (40, 20)
    assert_rgb(loaded, (20, 40))
    r, g, b = loaded.image.getpixel((18, 1))  # stored top-left is now top-right
    assert r > 200 and g < 60 and b < 60
    assert loaded.image.getpixel((1, 1)) == pytest.approx((255, 255, 255), abs=8)
    assert "Rotated according to the photo's EXIF orientation." in loaded.notes


def animation(n: int) -> list[Image.Image]:
    return [Image.new("RGB", (16, 12), (20 * i, 255 - 20 * i, 0)) for i in range(n)]


def test_animated_gif_uses_the_first_frame_with_a_note(tmp_path: Path) -> None:
    frames = animation(12)
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=50, loop=0)
    loaded = load_image(path)
    assert_rgb(loaded, (16, 12))
    assert loaded.image.getpixel((0, 0)) == (0, 255, 0)
    assert "Animated GIF: using the first of 12 frames." in loaded.notes


def test_animated_webp_uses_the_first_frame_with_a_note() -> None:
    frames = animation(3)
    data = encode(frames[0], "WEBP", save_all=True, append_images=frames[1:], lossless=True, duration=50)
    loaded = load_image(data)
    assert_rgb(loaded, (16, 12))
    assert loaded.image.getpixel((0, 0)) == (0, 255, 0)
    assert "Animated WebP: using the first of 3 frames." in loaded.notes


def test_multi_page_tiff_uses_the_first_page_with_a_note() -> None:
    frames = animation(3)
    loaded = load_image(encode(frames[0], "TIFF", save_all=True, append_images=frames[1:]))
    assert loaded.image.getpixel((0, 0)) == (0, 255, 0)
    assert "Multi-page TIFF: using the first of 3 pages." in loaded.notes


def test_animated_pil_image_is_rewound_to_the_first_frame() -> None:
    frames = animation(4)
    im = Image.open(io.BytesIO(encode(frames[0], "GIF", save_all=True, append_images=frames[1:])))
    im.seek(2)
    loaded = load_image(im)
    assert loaded.image.getpixel((0, 0)) == (0, 255, 0)


# --- unsupported formats -----------------------------------------------------------


@pytest.mark.parametrize(
    "data, name",
    [
        (b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>', "SVG"),
        (b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"/>', "SVG"),
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", "HEIC"),
        (b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf", "AVIF"),
    ],
)
def test_svg_heic_and_avif_are_refused_by_name(tmp_path: Path, data: bytes, name: str) -> None:
    path = tmp_path / "upload.bin"
    path.write_bytes(data)
    message = refusal(path)
    assert message.startswith(f"Unsupported format: {name}")
    assert message.endswith(PLEASE_UPLOAD)


def test_other_pillow_formats_are_not_opened() -> None:
    # ICO is a valid image Pillow could open, but it is not on the allowed list.
    assert "not an image in a supported format" in refusal(encode(Image.new("RGB", (16, 16)), "ICO"))


# --- numpy, bytes, PIL and path inputs --------------------------------------------


def test_numpy_uint8_rgb_array_is_used_as_is() -> None:
    array = np.random.default_rng(1).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    loaded = load_image(array)
    assert_rgb(loaded, (7, 5))
    assert (np.asarray(loaded.image) == array).all()


def test_numpy_greyscale_array_becomes_rgb() -> None:
    array = np.arange(35, dtype=np.uint8).reshape(5, 7)
    loaded = load_image(array)
    assert_rgb(loaded, (7, 5))
    assert (np.asarray(loaded.image)[..., 1] == array).all()


def test_numpy_rgba_array_is_composited_onto_white() -> None:
    array = np.zeros((4, 4, 4), dtype=np.uint8)
    loaded = load_image(array)
    assert (np.asarray(loaded.image) == 255).all()
    assert "Transparent pixels were composited onto white." in loaded.notes


def test_numpy_float_array_in_unit_range_is_scaled_to_8_bits() -> None:
    array = np.array([[[0.0, 0.5, 1.0]]], dtype=np.float32)
    loaded = load_image(array)
    assert loaded.image.getpixel((0, 0)) == (0, 128, 255)


@pytest.mark.parametrize(
    "array",
    [
        np.full((4, 4, 3), 2.0),  # float outside [0, 1]
        np.array([[np.nan]]),  # not finite
        np.zeros((4, 4, 3), dtype=np.int64),  # neither uint8 nor float
        np.zeros((4, 4, 3), dtype=bool),
        np.zeros((4, 4, 2), dtype=np.uint8),  # wrong channel count
        np.zeros((2, 4, 4, 3), dtype=np.uint8),  # a batch, not an image
        np.zeros(10, dtype=np.uint8),
        np.zeros((0, 4), dtype=np.uint8),
        np.array(3, dtype=np.uint8),
    ],
    ids=["float>1", "nan", "int64", "bool", "2-channels", "4-d", "1-d", "empty", "0-d"],
)
def test_other_numpy_arrays_are_refused(array: np.ndarray) -> None:
    assert "array" in refusal(array)


def test_raw_file_bytes_are_accepted() -> None:
    assert_rgb(load_image(encode(noise((9, 6)), "BMP")), (9, 6))


def test_pil_image_is_accepted_and_left_unchanged() -> None:
    im = Image.new("RGBA", (6, 9), (0, 0, 0, 0))
    loaded = load_image(im)
    assert_rgb(loaded, (6, 9))
    assert im.mode == "RGBA"


def test_str_and_pathlib_paths_are_accepted(tmp_path: Path) -> None:
    path = tmp_path / "photo.webp"
    noise((10, 8)).save(path)
    assert_rgb(load_image(path), (10, 8))
    assert_rgb(load_image(str(path)), (10, 8))


def test_shipped_example_photos_load_cleanly() -> None:
    examples = sorted((Path(__file__).resolve().parents[2] / "vitviz" / "assets" / "examples").glob("*.jpg"))
    assert len(examples) >= 5
    for path in examples:
        loaded = load_image(path)
        assert loaded.image.mode == "RGB" and max(loaded.image.size) <= 640
        assert loaded.notes == ()


# --- properties -----------------------------------------------------------------------

MODES = ["RGB", "L", "RGBA", "P", "I;16", "F", "CMYK", "LA"]


def random_image(mode: str, size: tuple[int, int], seed: int) -> Image.Image:
    """An image of `mode` with random bytes as content (floats may be NaN/inf)."""
    rng = np.random.default_rng(seed)
    probe = Image.new(mode, (1, 1))
    n_bytes = len(probe.tobytes()) * size[0] * size[1]
    im = Image.frombytes(mode, size, rng.integers(0, 256, n_bytes, dtype=np.uint8).tobytes())
    if mode == "P":
        im.putpalette(rng.integers(0, 256, 768, dtype=np.uint8).tobytes())
        if rng.random() < 0.5:
            im.info["transparency"] = int(rng.integers(0, 256))
    return im


def expected_to_load(size: tuple[int, int]) -> bool:
    return max(size) / min(size) <= images.MAX_ASPECT_RATIO


sides = st.integers(min_value=1, max_value=600)
PROPERTY_SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY_SETTINGS
@given(mode=st.sampled_from(MODES), width=sides, height=sides, seed=st.integers(0, 2**32 - 1))
def test_any_pil_image_loads_as_rgb_of_the_same_size_or_is_refused(mode, width, height, seed) -> None:
    im = random_image(mode, (width, height), seed)
    try:
        loaded = load_image(im)
    except ImageError as error:
        assert_one_sentence(str(error))
        assert not expected_to_load((width, height))
        return
    assert expected_to_load((width, height))
    assert_rgb(loaded, (width, height))
    assert loaded.source_mode == mode and loaded.source_size == (width, height)


# Formats able to store each mode, for the round trip through real file bytes.
FORMAT_FOR_MODE = {
    "RGB": "JPEG", "L": "PNG", "RGBA": "WEBP", "P": "GIF",
    "I;16": "PNG", "F": "TIFF", "CMYK": "TIFF", "LA": "PNG",
}


@PROPERTY_SETTINGS
@given(
    mode=st.sampled_from(MODES),
    width=sides,
    height=sides,
    seed=st.integers(0, 2**32 - 1),
    cut=st.one_of(st.none(), st.floats(0.0, 1.0)),
    flip=st.one_of(st.none(), st.integers(0, 2**31)),
)
def test_encoded_files_even_corrupted_ones_load_or_raise_image_error(mode, width, height, seed, cut, flip) -> None:
    data = bytearray(encode(random_image(mode, (width, height), seed), FORMAT_FOR_MODE[mode]))
    if flip is not None:
        data[flip % len(data)] ^= 0xFF  # corrupt one byte anywhere
    if cut is not None:
        data = data[: int(len(data) * cut)]  # truncate anywhere
    try:
        loaded = load_image(bytes(data))
    except ImageError as error:
        assert_one_sentence(str(error))
        return
    assert loaded.image.mode == "RGB"
    if flip is None and cut is None:
        assert loaded.image.size == (width, height)
