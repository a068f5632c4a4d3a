"""Colour management at the boundary between plates and the model (OpenColorIO via OpenImageIO).

Convention (written down once, used everywhere):

* Plates are scene-linear (ACEScg, Linear Rec.709, ...) or display-encoded; their colour
  space comes from the job (``input.colorspace``), else the file's ``oiio:ColorSpace``
  attribute, else **Linear Rec.709 (sRGB)** (what Blender and most renderers write).
* The model space is **sRGB Encoded Rec.709 (sRGB)**, display-referred, and the model sees
  it in [0, 1]. Arrays are float32, H×W×3, top row first.
* The OCIO config is ``$OCIO`` when set, else OpenImageIO's built-in ``ocio://default``
  (the ACES CG config, whose ``scene_linear`` role is ACEScg — so spaces are always named
  explicitly here, never taken from roles).

What happens to values the model space cannot hold (above 1.0 or below 0.0 once encoded,
NaN, ±Inf): :func:`to_model` keeps them, :func:`model_input` clips them to [0, 1] (NaN → 0)
for the network. Where the edit does not reach (outside the mask, or with no edit), the
output keeps the plate's original scene-linear pixels bit for bit, so nothing is clipped
there; inside the edit the model's [0, 1] result replaces them.
"""

from __future__ import annotations

import functools

import numpy as np

from ..errors import ColourError

__all__ = [
    "MODEL_SPACE",
    "DEFAULT_PLATE_SPACE",
    "resolve_colorspace",
    "plate_colorspace",
    "convert",
    "to_model",
    "from_model",
    "model_input",
    "colorspace_warning",
    "check_display_view",
]

MODEL_SPACE = "sRGB Encoded Rec.709 (sRGB)"
DEFAULT_PLATE_SPACE = "Linear Rec.709 (sRGB)"
_HALF_MAX = 65504.0


@functools.lru_cache(maxsize=1)
def _config():
    import OpenImageIO as oiio

    return oiio.ColorConfig()


def resolve_colorspace(name: str) -> str:
    """The config's canonical name for ``name`` (aliases and roles accepted), or ColourError."""
    cfg = _config()
    if not isinstance(name, str) or cfg.getColorSpaceIndex(name) < 0:
        known = ", ".join(repr(n) for n in list(cfg.getColorSpaceNames())[:8])
        raise ColourError(f"colour space {name!r} is not in the OCIO config ({cfg.configname()}); "
                          f"known spaces include {known}")
    return cfg.resolve(name)


def plate_colorspace(job_value: str | None, file_value: str | None) -> str:
    """The plate's colour space: the job's, else the file's tag (if the config knows it), else Linear Rec.709."""
    if job_value:
        return resolve_colorspace(job_value)
    if file_value:
        try:
            return resolve_colorspace(file_value)
        except ColourError:
            pass
    return resolve_colorspace(DEFAULT_PLATE_SPACE)


def colorspace_warning(job_value: str | None, file_value: str | None) -> str | None:
    """What to tell the artist when the plate's colour-space tag is not in the config (and the job names
    none): the plate is then read as Linear Rec.709, which may be wrong."""
    if job_value or not file_value:
        return None
    try:
        resolve_colorspace(file_value)
        return None
    except ColourError:
        return (f"the plate is tagged with colour space {file_value!r}, which the OCIO config "
                f"({_config().configname()}) does not know; it is read as {DEFAULT_PLATE_SPACE}: set the job's "
                "input.colorspace if that is wrong")


def _oiio_error(buf) -> str:
    from .exrio import oiio_error

    return oiio_error(buf)


def convert(rgb: np.ndarray, src: str, dst: str) -> np.ndarray:
    """Convert an H×W×3 float array from ``src`` to ``dst`` (both named in the OCIO config)."""
    import OpenImageIO as oiio

    src, dst = resolve_colorspace(src), resolve_colorspace(dst)
    rgb = np.ascontiguousarray(rgb, dtype=np.float32)
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ColourError(f"colour conversion needs H×W×3 pixels, got shape {rgb.shape}")
    if src == dst:
        return rgb.copy()
    buf = oiio.ImageBuf(rgb)
    out = oiio.ImageBufAlgo.colorconvert(buf, src, dst)
    if out.has_error:
        raise ColourError(f"cannot convert {src!r} to {dst!r}: {_oiio_error(out)}")
    return out.get_pixels(oiio.FLOAT).reshape(rgb.shape)


def to_model(rgb: np.ndarray, plate_space: str, view: str = "clip") -> np.ndarray:
    """Plate RGB → model space through ``view`` (:mod:`.model_view`; 'clip': sRGB-encoded, unclipped).
    NaN → 0 and ±Inf → ±half-max first, because a NaN in one channel would spread through the matrix."""
    from .model_view import to_model as through

    return through(rgb, plate_space, view)


def from_model(rgb: np.ndarray, plate_space: str, view: str = "clip") -> np.ndarray:
    """Model space → the plate's colour space, inverting ``view``."""
    from .model_view import from_model as through

    return through(rgb, plate_space, view)


def check_display_view(view: str) -> None:
    """ColourError unless the OCIO 'display/view' exists and inverts (see :mod:`.model_view`)."""
    from .model_view import check_display_view as check

    check(view)


def model_input(model_rgb: np.ndarray) -> np.ndarray:
    """What the network sees: model-space pixels clipped to [0, 1]."""
    return np.clip(np.nan_to_num(model_rgb, nan=0.0), 0.0, 1.0).astype(np.float32)
