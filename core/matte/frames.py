"""Frames in and mattes out, at the boundary between the plate and SAM 2.1.

* In: the plate's colour layer (the hero view) of a frame, placed on the shot's canvas (display window ∪
  data windows), made display-referred through the job's ``model_view`` exactly as the render shows
  plates to its model (:func:`recast.core.shot.display.display_rgb`), then resized to the model's square
  input (bilinear with antialiasing, the aspect squashed as SAM 2's processor does) and normalised with
  the model's mean and standard deviation. This equals transformers' ``Sam2VideoVideoProcessor`` (which
  needs torchvision: ``torchvision.transforms.v2.functional.resize`` is the same antialiased bilinear
  ``torch.nn.functional.interpolate``), except that it starts from 8-bit frames and resizes them in 8 bits,
  and Recast from float ones. Measured against the processor (torchvision 0.29.1, transformers 5.24, in a
  separate environment, 2026-11-30) on 8-bit frames of 160×96 to 1920×1080: the largest difference is 1/255
  of a pixel value before normalisation (its 8-bit rounding), the mean 0.02–0.1 of that.
* Clicks: display-window pixels → canvas pixels → the model's input size (the processor's
  ``_normalize_coordinates``); a box is two points labelled 2 and 3 ahead of the clicks (the processor's
  order).
* Out: the mask logits upsampled as the processor's ``post_process_masks`` does (to the input size,
  then to the canvas, bilinear; measured identical to it, ``binarize=False``), then their sigmoid — a soft matte in [0, 1], not a binarised one —
  cut to each frame's own data window and written as half-float EXR channels.
"""

from __future__ import annotations

import numpy as np

from ..io.exrio import write_frame
from ..io.layout import Frame, Header, place

__all__ = ["channel_names", "model_pixels", "prompt_tensors", "soft_mattes", "write_matte"]

#: plate attributes a matte does not inherit (it is data, not colour)
_NOT_INHERITED = {"oiio:ColorSpace", "colorInteropID", "chromaticities", "whiteLuminance", "name", "view", "multiView", "type",
                  "oiio:subimagename"}


def channel_names(objects) -> tuple[str, ...]:
    """One object → ('A',); several → ('matte.<name>', …, 'A') with A their union."""
    if len(objects) == 1:
        return ("A",)
    return tuple(f"matte.{o.name}" for o in objects) + ("A",)


def model_pixels(rgb_display: np.ndarray, size: int, mean, std):
    """Display RGB (H×W×3 in [0, 1]) → the model's input, a (3, size, size) float32 tensor."""
    import torch
    import torch.nn.functional as F

    x = torch.from_numpy(np.ascontiguousarray(rgb_display, dtype=np.float32)).permute(2, 0, 1)[None]
    x = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)[0]
    m = torch.tensor(mean, dtype=torch.float32)[:, None, None]
    s = torch.tensor(std, dtype=torch.float32)[:, None, None]
    return (x - m) / s


def prompt_tensors(obj, frame: int, offset: tuple[int, int], canvas: tuple[int, int], size: int):
    """The object's box and clicks on ``frame`` as SAM 2's ``point_coords`` (1, 1, N, 2) and ``point_labels``
    (1, 1, N): display pixels + ``offset`` (display origin − canvas origin) scaled from ``canvas``
    (width, height) to the model's ``size``."""
    import torch

    sx, sy = size / canvas[0], size / canvas[1]
    dx, dy = offset
    coords, labels = [], []
    for b in obj.boxes:
        if b.frame == frame:
            coords += [((b.x0 + dx) * sx, (b.y0 + dy) * sy), ((b.x1 + dx) * sx, (b.y1 + dy) * sy)]
            labels += [2, 3]
    for c in obj.clicks:
        if c.frame == frame:
            coords.append(((c.x + dx) * sx, (c.y + dy) * sy))
            labels.append(1 if c.positive else 0)
    return (torch.tensor(coords, dtype=torch.float32).reshape(1, 1, -1, 2),
            torch.tensor(labels, dtype=torch.int32).reshape(1, 1, -1))


def soft_mattes(logits, size: int, canvas: tuple[int, int]) -> np.ndarray:
    """Mask logits (objects, 1, h, w) → soft mattes (objects, H, W) float32 in [0, 1] on the canvas."""
    import torch
    import torch.nn.functional as F

    x = logits.detach().float().cpu()
    x = F.interpolate(x, (size, size), mode="bilinear", align_corners=False)
    x = F.interpolate(x, (canvas[1], canvas[0]), mode="bilinear", align_corners=False)
    return torch.sigmoid(x)[:, 0].numpy()


def write_matte(path: str, mattes: np.ndarray, names, plate_header: Header, canvas, data_window,
                attributes: dict) -> None:
    """Write one frame's mattes (objects, H, W on ``canvas``) as ``names`` (the last, A, their union) over the
    plate frame's ``data_window``, in its display window, half float, atomically."""
    layers = list(mattes)
    if len(names) > len(layers):
        layers.append(np.max(mattes, axis=0))
    stack = np.stack(layers, axis=-1).astype(np.float32)
    pixels = np.clip(place(stack, canvas, data_window), 0.0, 1.0).astype(np.float32)
    kept = tuple(a for a in plate_header.attributes if a[0] not in _NOT_INHERITED and not a[0].startswith("recast/"))
    header = Header(path=path, channels=tuple(names), formats=("half",) * len(names), data_window=data_window,
                    display_window=plate_header.display_window, tile=None, attributes=kept)
    write_frame(path, Frame(header, pixels), attributes)
