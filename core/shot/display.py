"""A plate as a person (and the model) sees it: scene-linear → display-referred RGB in [0, 1].

The one place plate pixels become display pixels: the model's input (:mod:`.model_frames`), the
metrics' frames (:mod:`recast.core.metrics.evaluate`) and the demo's contact sheet all use it.
Convention: the plate's colour space (the job's, else the file's ``oiio:ColorSpace``, else
Linear Rec.709) → model space (display-referred, through the job's ``model_view``; 'clip' by
default here: sRGB-encoded Rec.709, :data:`recast.core.io.colour.MODEL_SPACE`) through OCIO;
NaN → 0, ±Inf clipped; then clipped to [0, 1]. float32, H×W×3, top row first.
"""

from __future__ import annotations

import numpy as np

from ..io.colour import model_input, plate_colorspace, to_model
from ..io.exrio import read_frame
from ..io.resolution import model_size, resize

__all__ = ["display_rgb", "display_frame"]


def display_rgb(rgb: np.ndarray, space: str, view: str = "clip") -> np.ndarray:
    """Scene-linear ``rgb`` in ``space`` → display RGB in [0, 1] through ``view`` (the job's
    ``model_view``: :mod:`recast.core.io.model_view`), float32."""
    return model_input(to_model(rgb, space, view))


def display_frame(path: str, colorspace: str | None = None, long_side: int | None = None,
                  view: str = "clip", size: tuple[int, int] | None = None) -> np.ndarray:
    """The colour of the frame at ``path`` (its first colour layer, placed on its display window: 0 outside
    the data window) as display RGB through ``view`` ('clip', 'filmic' or an OCIO 'display/view'), resized to
    ``long_side`` pixels on its long side (aspect kept, multiples of 8) when given. ``size`` (width, height):
    resized to it before the display transform instead, in the plate's colour space (a proxy: filtered in
    scene-linear, and the transform runs on the small picture)."""
    from ..io.exrio import read_headers
    from ..io.layout import place
    from .layers import edit_layers

    layer = edit_layers(read_headers(path))[0]
    frame = read_frame(path, layer.part)
    on_display = place(layer.rgb(frame), frame.header.data_window, frame.header.display_window)
    if size is not None and on_display.shape[:2] != (size[1], size[0]):
        on_display = resize(on_display, *size)
    rgb = display_rgb(on_display, plate_colorspace(colorspace, frame.header.colorspace), view)
    if long_side is None:
        return rgb
    h, w = rgb.shape[:2]
    return np.clip(resize(rgb, *model_size(w, h, long_side)), 0.0, 1.0).astype(np.float32)
