"""The training images: files (a folder, a glob pattern) or frames of a plate, read through OpenImageIO and
converted to model space like a reference image, then centre-cropped to a square and resized to the
training resolution (the crop keeps the middle of wide frames; no aspect bucketing: a handful of images
trains at one size). Captions: the ``--caption`` text, else a ``.txt`` beside each image, else the token.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass

import numpy as np

from ..errors import ImageError, JobError

__all__ = ["TrainingImage", "find_images", "load_training_images", "MIN_SIDE"]

MIN_SIDE = 64  #: pixels: smaller images hold too little to learn from (and the VAE needs 8× its latent)
_EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".exr", ".dpx", ".bmp", ".tga", ".webp")


@dataclass
class TrainingImage:
    path: str
    pixels: np.ndarray  #: resolution × resolution × 3, model space, [0, 1]
    caption: str


def find_images(images: str, frames: str | None = None) -> list[str]:
    """The files ``images`` names: a folder (its images, sorted), a frame pattern (``####``, ``%04d``, ``@``;
    with ``frames`` 'A-B', else every frame on disk) or a glob pattern."""
    from ..io.frames import FrameRange, SequencePattern

    if os.path.isdir(images):
        found = sorted(os.path.join(images, n) for n in os.listdir(images)
                       if n.lower().endswith(_EXTENSIONS) and not n.startswith("."))
    elif any(tok in images for tok in ("#", "%0", "%d", "@")):
        seq = SequencePattern.parse(images)
        if frames:
            found = [seq.path(f) for f in FrameRange.parse(frames)]
            missing = [p for p in found if not os.path.isfile(p)]
            if missing:
                raise JobError(f"--frames {frames}: {len(missing)} frame(s) of {images} are missing, e.g. {missing[0]}")
        else:
            found = [p for _, p in sorted(seq.scan().items())]
    else:
        found = sorted(p for p in glob.glob(images) if os.path.isfile(p))
    if not found:
        raise JobError(f"no images in {images!r}: give a folder of images, a glob pattern such as 'look/*.png', "
                       "or a plate's frame pattern with --frames")
    return found


def _caption(path: str, caption: str | None, token: str) -> str:
    if caption:
        return caption if token in caption else f"{token}, {caption}"
    beside = os.path.splitext(path)[0] + ".txt"
    if os.path.isfile(beside):
        with open(beside, encoding="utf-8", errors="replace") as fh:
            text = " ".join(fh.read().split())
        if text:
            return text if token in text else f"{token}, {text}"
    return token


def load_training_images(paths: list[str], resolution: int, token: str, caption: str | None = None,
                         view: str = "filmic") -> list[TrainingImage]:
    """Every image read, checked and prepared; one ImageError naming the file for one that cannot be used."""
    from ..backends.clip_content import load_reference_image
    from ..io.resolution import resize

    out = []
    for path in paths:
        try:
            rgb = load_reference_image(path, view)
        except ImageError as exc:
            raise ImageError(f"training image {path!r} cannot be read: {exc}") from None
        h, w = rgb.shape[:2]
        if min(h, w) < MIN_SIDE:
            raise ImageError(f"training image {path!r} is {w}x{h}; images need at least {MIN_SIDE} px on each side")
        side = min(h, w)  # the centre square
        y, x = (h - side) // 2, (w - side) // 2
        square = np.ascontiguousarray(rgb[y:y + side, x:x + side])
        out.append(TrainingImage(path, np.clip(resize(square, resolution, resolution), 0.0, 1.0).astype(np.float32),
                                 _caption(path, caption, token)))
    return out
