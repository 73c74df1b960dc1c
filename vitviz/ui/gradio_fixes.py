"""Workarounds for gradio (6.31) behaviours, all in one place.

Each says which behaviour it works around and how to tell when it is no longer needed.
"""
from __future__ import annotations

import hashlib
import io
import logging
import os
import tempfile
from pathlib import Path
from types import SimpleNamespace

import gradio as gr
import numpy as np
from PIL import Image


UNTOUCHED_UPLOADS: set[str] = set()  # elem_ids of the gr.Image inputs whose uploads are handed over as paths


def hand_over_upload_untouched(image: gr.Image) -> gr.Image:
    """Make `image` (which needs an elem_id) pass the uploaded file's path to handlers without opening it.

    Works around: gr.Image opens uploads with PIL before the handler runs, so a corrupt file or a
    decompression bomb would fail inside gradio with a generic error; vitviz.load_image gives each
    of those one clear sentence instead. gradio also re-encodes the upload into its cache with a
    plain `write_bytes`: gradio reports one upload as two changes, and the second change's rewrite
    truncates the file while the first is reading it ("The file is empty.").
    The patch is on the class, keyed by elem_id, because after any update of the component's
    properties (a label, the alt text) gradio keeps a copy rebuilt from the constructor's arguments
    in the session and preprocesses with that copy; a patch on the instance would be lost.
    (A gr.Image subclass would make gradio write a .pyi stub next to the module defining it.)
    No longer needed when gr.Image(type="filepath") hands over the upload's path without decoding
    it: then tests/ui/test_app_api.py::test_image_upload_reaches_the_handler_unopened passes
    without this wrapper.
    """
    if not image.elem_id:
        raise ValueError("hand_over_upload_untouched needs a gr.Image with an elem_id")
    UNTOUCHED_UPLOADS.add(image.elem_id)
    default = gr.Image.preprocess
    if not getattr(default, "vitviz_untouched", False):
        def preprocess(self: gr.Image, payload):
            if (self.elem_id in UNTOUCHED_UPLOADS and payload is not None and payload.path
                    and not (payload.url or "").startswith("data:")):
                return str(payload.path)
            return default(self, payload)

        preprocess.vitviz_untouched = True
        gr.Image.preprocess = preprocess
    return image


PNG_COMPRESS_LEVEL = 1


def save_png_atomically(image: Image.Image, cache_dir: str | Path) -> str:
    """Write `image` as PNG to `cache_dir/<sha256>/image.png` and return the path.

    Content-addressed like gradio's own cache, but written under a temporary name and
    renamed into place, and an existing file is reused untouched: identical pictures for
    two users never rewrite a file one of them is still downloading. zlib level 1: a 448 px
    photo with its grid encodes in 9 ms instead of 32 at the default level 6, for 10 % more bytes
    (on localhost and on a Space the encoding, not the transfer, is what the page waits for).
    """
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=PNG_COMPRESS_LEVEL)
    data = buffer.getvalue()
    folder = Path(cache_dir) / hashlib.sha256(data).hexdigest()
    path = folder / "image.png"
    try:
        os.utime(path)  # already there: delete_cache ages files by time, a re-served picture starts afresh
        return str(path)
    except FileNotFoundError:  # new, or removed by delete_cache a moment ago
        pass
    folder.mkdir(parents=True, exist_ok=True)
    fd, staging = tempfile.mkstemp(dir=folder, prefix=".image.", suffix=".png")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(staging, path)
    except BaseException:
        Path(staging).unlink(missing_ok=True)
        raise
    return str(path)


def serve_outputs_atomically(image: gr.Image) -> gr.Image:
    """Make output `image` hand gradio a finished file instead of an array or PIL image.

    Works around: gradio saves array/PIL outputs content-addressed with a plain `write_bytes`, so
    when concurrent users get the same picture (the same example image), a later write truncates
    the file while an earlier user is still downloading it (seen as failed requests in the
    concurrency benchmark). A path inside gradio's cache is served as it is. (Set on the
    instance: gradio draws an update of a picture's properties with a rebuilt copy, so
    `page.Page.described` saves those pictures itself.)
    No longer needed when gradio's image cache writes atomically (temporary file + rename) and
    leaves an existing file alone: check `gradio.processing_utils.save_img_array_to_cache`, or run
    tests/ui/test_serving.py::test_identical_output_pictures_are_never_rewritten_while_being_downloaded
    against a plain gr.Image.
    """
    default = image.postprocess

    def postprocess(value):
        if isinstance(value, np.ndarray):
            value = Image.fromarray(value)
        if isinstance(value, Image.Image):
            value = save_png_atomically(value, image.GRADIO_CACHE)
        return default(value)

    image.postprocess = postprocess
    return image


def delete_cache() -> tuple[int, int]:
    """(every, older than) seconds for gradio's temp-file cleanup; VITVIZ_DELETE_CACHE="60,120" overrides.

    Works around: gradio keeps every upload and output file forever unless `gr.Blocks(delete_cache=...)`
    is set (a long-running Space fills its disk). Default: files older than an hour are removed every
    30 minutes. No longer needed when gradio cleans its temp files by default.
    """
    every, age = (int(v) for v in os.environ.get("VITVIZ_DELETE_CACHE", "1800,3600").split(","))
    return every, age


def guard_cache_cleanup() -> None:
    """Keep gradio's `delete_cache` task alive while requests are being served (patches
    `gradio.route_utils.delete_files_created_by_app`).

    Works around: gradio (6.31) walks its live temp-file sets while request threads add to them:
    the first "Set changed size during iteration" ends the scheduled task for good, and from then
    on every upload and output picture stays on disk (a Space fills its disk). Here gradio's own
    cleanup runs on snapshots of the sets (copying a set is atomic under the GIL), what it deleted
    is then taken out of the live sets, and any other error is logged instead of ending the task.
    Idempotent.
    No longer needed when `delete_files_created_by_app` iterates over copies of
    `blocks.temp_file_sets` (or catches errors per sweep): then
    tests/ui/test_serving.py::test_cache_cleanup_survives_files_added_during_a_sweep passes unpatched.
    """
    from gradio import route_utils
    cleanup = route_utils.delete_files_created_by_app
    if getattr(cleanup, "vitviz_guard", False):
        return

    def guarded(blocks, age):
        live = list(blocks.temp_file_sets)
        before = [set(files) for files in live]
        snapshot = SimpleNamespace(blocks=dict(blocks.blocks), temp_file_sets=[set(files) for files in before])
        try:
            cleanup(snapshot, age)  # removes what it deleted from the snapshot's sets
        except Exception:  # one failed sweep must not stop all later ones
            logging.getLogger(__name__).exception("gradio temp-file cleanup failed; retrying at the next sweep")
        for files, old, kept in zip(live, before, snapshot.temp_file_sets):
            files -= old - kept

    guarded.vitviz_guard = True
    route_utils.delete_files_created_by_app = guarded
