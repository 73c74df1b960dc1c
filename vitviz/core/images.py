"""Turn any user-supplied image into an RGB PIL image, or one clear sentence.

`load_image` accepts a path, the raw bytes of a file, a PIL image or a numpy
array, and returns a `LoadedImage`: an 8-bit RGB image with its EXIF
orientation applied (first frame if animated) plus user-facing notes about
what was done to it. Anything it cannot or will not handle raises
`ImageError`, whose message is a single sentence meant for the user.

Documented limits and choices:

* `MAX_FILE_BYTES` (25 MB): larger uploads are refused before being read.
* `MAX_PIXELS` (40 megapixels): checked from the header, *before* decoding,
  so a small file that claims to be huge is never allocated. Large JPEGs are
  first decoded at 1/2, 1/4 or 1/8 scale (libjpeg's cheap "draft" mode) when
  that brings them under the limit, so 48-50 MP phone photos still work.
* Tiny images (a side under `SMALL_SIDE` px, down to 1x1) are accepted with a
  note: the model's transform upscales them, which is merely blurry.
* Elongated images up to `MAX_ASPECT_RATIO`:1 are accepted, with a note above
  `NOTE_ASPECT_RATIO`:1 that the square centre crop keeps only part of them;
  beyond that they are refused (see the constant for why).
* Only PNG, JPEG (incl. multi-picture JPEG), WebP, GIF, BMP and TIFF files
  are opened; SVG, HEIC/AVIF and PDF get a specific refusal, everything else
  a generic one. Limiting Pillow's format list also keeps rarely-used
  decoders (and EPS, which calls Ghostscript) away from untrusted uploads.
* Truncated files are refused: `ImageFile.LOAD_TRUNCATED_IMAGES` is left
  False and every image is fully decoded with `.load()` here.
"""

from __future__ import annotations

import io
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps

# Decompression-bomb limit, checked on the header's size before decoding.
# 40 MP is above every common camera/phone default (12-24 MP; 48-50 MP
# "high-res" JPEGs are decoded at half scale, see _reduce_large_jpeg) and
# bounds memory to 8-bit RGB plus the two or three working copies made below
# (~120 MB each) on a small 2-core server. Pillow's own thresholds (~89 MP
# warning, ~179 MP error) are too generous for a web app taking uploads.
MAX_PIXELS: int = 40_000_000

# 25 MB comfortably holds a 40 MP JPEG or a large PNG screenshot; anything
# bigger is almost certainly not a photo meant for a 224x224 model.
MAX_FILE_BYTES: int = 25 * 1024 * 1024

# Below this side length the upscaling to the model's input is very visible.
SMALL_SIDE: int = 32

# From this ratio on, say that the centre crop drops much of the image.
NOTE_ASPECT_RATIO: float = 2.0

# The model's transform resizes the *short* side to ~224 px before cropping:
# a 1x60 strip would become 224x13,440 px and the crop would keep < 2 % of it;
# a 1x100,000 strip (a ~300-byte PNG) would become 5 gigapixels. 50:1 keeps
# every real panorama (typically <= 10:1) and refuses such degenerate inputs.
MAX_ASPECT_RATIO: float = 50.0

# Multi-picture JPEGs (format "MPO") are opened by the JPEG plugin itself.
ALLOWED_FORMATS: tuple[str, ...] = ("PNG", "JPEG", "WEBP", "GIF", "BMP", "TIFF")
_PLEASE_UPLOAD = "please upload PNG, JPEG, WebP, GIF, BMP or TIFF"

# How to describe the extra frames of a multi-frame file, by Pillow format.
_MULTI_FRAME_KIND: dict[str, tuple[str, str]] = {
    "GIF": ("Animated GIF", "frames"),
    "WEBP": ("Animated WebP", "frames"),
    "PNG": ("Animated PNG", "frames"),
    "TIFF": ("Multi-page TIFF", "pages"),
    "MPO": ("Multi-picture JPEG", "pictures"),
}

# ISO-BMFF brands (bytes 8..12 after "ftyp") of formats Pillow cannot open here.
_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"}
_AVIF_BRANDS = {b"avif", b"avis"}


class ImageError(ValueError):
    """One clear, user-facing sentence; never a traceback."""


@dataclass(frozen=True)
class LoadedImage:
    """An RGB image ready for the model, and what was done to get it."""

    image: Image.Image  # mode "RGB", EXIF orientation applied, first frame if animated
    notes: tuple[str, ...]  # user-facing remarks, one sentence each
    source_mode: str  # original PIL mode
    source_size: tuple[int, int]  # original (width, height), before any EXIF rotation


def load_image(source: str | os.PathLike | bytes | Image.Image | np.ndarray) -> LoadedImage:
    """Load `source` as an 8-bit RGB image, or raise `ImageError`."""
    if isinstance(source, Image.Image):
        return _from_pil(source)
    if isinstance(source, np.ndarray):
        return _from_pil(_array_to_pil(source))
    if isinstance(source, (bytes, bytearray, memoryview)):
        return _from_bytes(bytes(source))
    if isinstance(source, (str, os.PathLike)):
        return _from_bytes(_read_file(Path(source)))
    raise ImageError(f"Cannot read an image from a value of type {type(source).__name__}; {_PLEASE_UPLOAD}.")


# --- files and bytes -------------------------------------------------------


def _read_file(path: Path) -> bytes:
    """Read a whole file, refusing missing, unreadable, empty or huge ones."""
    # Only the file name is shown: upload paths are server temp paths.
    name = path.name or str(path)
    try:
        size = path.stat().st_size
        if not path.is_file():
            raise ImageError(f"“{name}” is not a file, so it cannot be opened as an image.")
        _check_file_size(size)
        return path.read_bytes()
    except FileNotFoundError:
        raise ImageError(f"The file “{name}” does not exist.") from None
    except PermissionError:
        raise ImageError(f"The file “{name}” cannot be read (permission denied).") from None
    except OSError:
        raise ImageError(f"The file “{name}” could not be read.") from None


def _check_file_size(size: int) -> None:
    if size == 0:
        raise ImageError("The file is empty.")
    if size > MAX_FILE_BYTES:
        raise ImageError(
            f"The file is too large ({size / 2**20:.1f} MB); the limit is {MAX_FILE_BYTES // 2**20} MB."
        )


def _refuse_known_unsupported(data: bytes) -> None:
    """Give a specific message for common non-raster or unsupported formats."""
    head = data[:512].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith((b"<svg", b"<?xml", b"<!doctype svg")):
        raise ImageError(f"Unsupported format: SVG vector images cannot be analysed, {_PLEASE_UPLOAD}.")
    if data[4:8] == b"ftyp" and data[8:12] in _HEIF_BRANDS:
        raise ImageError(f"Unsupported format: HEIC/HEIF photos cannot be opened here, {_PLEASE_UPLOAD}.")
    if data[4:8] == b"ftyp" and data[8:12] in _AVIF_BRANDS:
        raise ImageError(f"Unsupported format: AVIF images cannot be opened here, {_PLEASE_UPLOAD}.")
    if data.startswith(b"%PDF"):
        raise ImageError(f"Unsupported format: PDF is a document, not an image, {_PLEASE_UPLOAD}.")


def _from_bytes(data: bytes) -> LoadedImage:
    """Decode the contents of an image file."""
    _check_file_size(len(data))
    _refuse_known_unsupported(data)
    try:
        # Turn Pillow's DecompressionBombWarning (> ~89 MP) into an exception
        # for this call only, instead of changing Image.MAX_IMAGE_PIXELS for
        # the whole process. (catch_warnings is process-global state; if two
        # threads race here, the worst case is a printed warning, and our own
        # MAX_PIXELS check below still refuses the image.)
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageError(f"The image is too large; the limit is {MAX_PIXELS // 1_000_000} megapixels.") from None
    except Image.UnidentifiedImageError:
        raise ImageError(f"This file is not an image in a supported format; {_PLEASE_UPLOAD}.") from None
    except Exception:  # Pillow's header parsers raise many types on bad data
        raise ImageError("The image file is damaged and could not be read.") from None
    return _from_pil(im)


# --- numpy arrays ------------------------------------------------------------


def _array_to_pil(array: np.ndarray) -> Image.Image:
    """Convert an HxW, HxWx1, HxWx3 or HxWx4 uint8 (or [0, 1] float) array."""
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    shape_ok = array.ndim == 2 or (array.ndim == 3 and array.shape[2] in (3, 4))
    if not shape_ok or array.size == 0:
        raise ImageError(
            f"An image array must have shape height×width, height×width×3 or height×width×4, "
            f"not {'×'.join(map(str, array.shape)) or 'a single value'}."
        )
    _check_pixels(array.shape[1], array.shape[0])
    if np.issubdtype(array.dtype, np.floating):
        if not np.isfinite(array).all() or array.min() < 0 or array.max() > 1:
            raise ImageError("A floating-point image array must hold finite values between 0 and 1.")
        array = np.rint(array * 255)
    elif array.dtype != np.uint8:
        raise ImageError(f"An image array must be of type uint8 or float, not {array.dtype}.")
    # fromarray infers L, RGB or RGBA from the shape of a uint8 array.
    return Image.fromarray(np.ascontiguousarray(array, dtype=np.uint8))


# --- the common path: a (possibly not yet decoded) PIL image -----------------


def _from_pil(im: Image.Image) -> LoadedImage:
    """Check limits, decode the first frame, orient it and convert it to RGB."""
    source_mode, source_size = im.mode, im.size
    notes: list[str] = []
    try:
        _select_first_frame(im, notes)
        _reduce_large_jpeg(im, notes)
        _check_pixels(*im.size)  # header size only: nothing is decoded yet
        _check_aspect_ratio(*im.size)
        im.load()  # full decode now: truncated data must fail here, not later
    except ImageError:
        raise
    except Exception:  # truncated/corrupt data: OSError, SyntaxError, zlib/struct errors...
        raise ImageError("The image file is damaged or incomplete and could not be decoded.") from None
    im = _apply_exif_orientation(im, notes)
    rgb = _to_rgb(im, notes)
    _note_small(rgb.size, notes)
    _note_aspect_ratio(rgb.size, notes)
    return LoadedImage(image=rgb, notes=tuple(notes), source_mode=source_mode, source_size=source_size)


def _select_first_frame(im: Image.Image, notes: list[str]) -> None:
    """Rewind multi-frame images to frame 0, noting how many frames there were."""
    n_frames = getattr(im, "n_frames", 1)
    if n_frames > 1:
        im.seek(0)
        kind, unit = _MULTI_FRAME_KIND.get(im.format or "", ("Multi-frame image", "frames"))
        notes.append(f"{kind}: using the first of {n_frames} {unit}.")


def _reduce_large_jpeg(im: Image.Image, notes: list[str]) -> None:
    """Have libjpeg decode an over-limit JPEG at 1/2, 1/4 or 1/8 scale if that fits.

    This only changes what `.load()` will decode (and `im.size`); if no scale
    fits, the image is left as is and the MAX_PIXELS check refuses it.
    """
    w, h = im.size
    if im.format not in ("JPEG", "MPO") or w * h <= MAX_PIXELS:
        return
    scale = next((s for s in (2, 4, 8) if (w // s) * (h // s) <= MAX_PIXELS), None)
    if scale is None:
        return
    im.draft(im.mode, (w // scale, h // scale))
    notes.append(f"Large JPEG ({w}×{h}) decoded at reduced resolution ({im.size[0]}×{im.size[1]}).")


def _check_pixels(width: int, height: int) -> None:
    """Refuse images over MAX_PIXELS, using only their size (no decode)."""
    if width < 1 or height < 1:
        raise ImageError("The image has no pixels.")
    if width * height > MAX_PIXELS:
        raise ImageError(
            f"The image is too large ({width}×{height} pixels); the limit is {MAX_PIXELS // 1_000_000} megapixels."
        )


def _check_aspect_ratio(width: int, height: int) -> None:
    ratio = max(width, height) / min(width, height)
    if ratio > MAX_ASPECT_RATIO:
        raise ImageError(
            f"The image is too elongated ({width}×{height}, about {ratio:.0f}:1); "
            f"the limit is {MAX_ASPECT_RATIO:.0f}:1."
        )


def _apply_exif_orientation(im: Image.Image, notes: list[str]) -> Image.Image:
    """Rotate/flip as the camera's EXIF orientation tag says (phones rely on it)."""
    try:
        orientation = im.getexif().get(0x0112, 1)
    except Exception:  # malformed EXIF must not make a viewable photo unusable
        return im
    if orientation not in range(2, 9):
        return im
    try:
        rotated = ImageOps.exif_transpose(im)
    except Exception:
        notes.append("The photo's orientation tag could not be applied; it is shown as stored.")
        return im
    notes.append("Rotated according to the photo's EXIF orientation.")
    return rotated


def _to_rgb(im: Image.Image, notes: list[str]) -> Image.Image:
    """Convert any Pillow mode to 8-bit RGB, noting lossy or surprising steps."""
    mode = im.mode
    if mode == "RGB":
        return im
    if mode.startswith("I;16"):
        notes.append("16-bit image scaled to 8 bits.")
        return _gray_array_to_rgb(_scale_16bit(np.asarray(im)))
    if mode in ("I", "F"):
        return _gray_array_to_rgb(_stretch(np.asarray(im), mode, notes))
    if mode == "CMYK":
        notes.append("Converted from CMYK to RGB.")
        return im.convert("RGB")
    if mode in ("RGBA", "RGBa", "LA", "La", "PA", "P"):
        return _composite_on_white(im, notes)
    try:
        return im.convert("RGB")
    except Exception:
        raise ImageError(f"Images with the colour mode {mode} are not supported; {_PLEASE_UPLOAD}.") from None


def _composite_on_white(im: Image.Image, notes: list[str]) -> Image.Image:
    """Flatten transparency onto white (the model has no notion of alpha)."""
    if im.mode == "La":  # premultiplied; Pillow converts it only via LA
        im = im.convert("LA")
    rgba = im.convert("RGBA")
    alpha = rgba.getchannel("A")
    if alpha.getextrema()[0] == 255:  # fully opaque: nothing to composite
        return rgba.convert("RGB")
    notes.append("Transparent pixels were composited onto white.")
    white = Image.new("RGB", rgba.size, (255, 255, 255))
    white.paste(rgba, mask=alpha)
    return white


# value -> round(value / 257): maps 0..65535 linearly onto 0..255 (scales, never
# clips). A lookup avoids float temporaries (40 MP would need 320 MB in float64).
_16BIT_TO_8BIT = np.rint(np.arange(65536) / 257.0).astype(np.uint8)


def _scale_16bit(values: np.ndarray) -> np.ndarray:
    """Scale 16-bit samples to 8 bits over their full nominal range."""
    return _16BIT_TO_8BIT[values]


def _stretch(values: np.ndarray, mode: str, notes: list[str]) -> np.ndarray:
    """Stretch 32-bit int/float data min-max to 0..255 (it has no fixed range).

    Non-finite values become 0; a constant image keeps its value, clipped to 0..255.
    float32 is precise enough for an 8-bit result and halves the memory.
    """
    with np.errstate(invalid="ignore"):  # signalling NaNs in random data would warn
        values = values.astype(np.float32)
    finite = np.isfinite(values)
    if not finite.all():
        values[~finite] = values[finite].min() if finite.any() else 0.0
    lo, hi = float(values.min()), float(values.max())
    kind = "Floating-point" if mode == "F" else "32-bit integer"
    if hi == lo:
        notes.append(f"{kind} image of constant value {lo:.6g} converted to 8 bits.")
        return np.full(values.shape, np.clip(np.rint(lo), 0, 255), dtype=np.uint8)
    notes.append(f"{kind} image: values from {lo:.6g} to {hi:.6g} were stretched to 0–255.")
    # Scale before shifting: (values - lo) could overflow float32 for extreme ranges.
    scale = 255.0 / (hi - lo)
    values *= np.float32(scale)
    values -= np.float32(lo * scale)
    return np.clip(np.rint(values, out=values), 0, 255, out=values).astype(np.uint8)


def _gray_array_to_rgb(values: np.ndarray) -> Image.Image:
    return Image.fromarray(values).convert("RGB")


def _note_small(size: tuple[int, int], notes: list[str]) -> None:
    w, h = size
    if min(w, h) < SMALL_SIDE:
        notes.append(f"Very small image ({w}×{h}): it will be upscaled, expect a blurry result.")


def _note_aspect_ratio(size: tuple[int, int], notes: list[str]) -> None:
    w, h = size
    ratio = max(w, h) / min(w, h)
    if ratio >= NOTE_ASPECT_RATIO:
        notes.append(
            f"Very elongated image ({w}×{h}): the model sees a square centre crop, "
            f"so only about the middle {100 / ratio:.0f}% of it is used."
        )


# --- model input normalisation ---------------------------------------------
# The one place where pixels become a model input and back: timm's `Normalize`,
# x = (pixel / 255 − mean) / std per channel (mean, std from the model's data config).


def normalise_pixels(images: np.ndarray, mean: tuple[float, ...], std: tuple[float, ...]) -> torch.Tensor:
    """(..., H, W, 3) uint8 pixels → (..., 3, H, W) float32 model input, no resize or crop."""
    x = torch.from_numpy(np.ascontiguousarray(images)).movedim(-1, -3).float() / 255
    return (x - torch.tensor(mean).view(3, 1, 1)) / torch.tensor(std).view(3, 1, 1)


def denormalise(x: torch.Tensor, mean: tuple[float, ...], std: tuple[float, ...]) -> np.ndarray:
    """(3, H, W) model input → (H, W, 3) uint8: what the model "sees", clamped to [0, 255]."""
    pixels = x * torch.tensor(std).view(3, 1, 1) + torch.tensor(mean).view(3, 1, 1)
    return (pixels.clamp(0, 1) * 255).round().byte().permute(1, 2, 0).numpy()
