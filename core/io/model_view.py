"""How scene-linear plates are shown to the model, and inverted on the way back (job ``model_view``).

The model works display-referred, in [0, 1] (sRGB-encoded Rec.709, :data:`.colour.MODEL_SPACE`).
A scene-linear plate holds far more: a sun at 1000, a specular at 20. Three ways across:

* ``"filmic"`` (default): the plate → scene-linear Rec.709 (OCIO); values up to the knee
  :data:`KNEE` = 0.8 are kept, values above roll off smoothly to 1.0 at :data:`WHITE` = 4096 —
  ``y = k + (1 − k)·g``, ``g = t·(1 + t/T²)/(1 + t)``, ``t = (x − k)/(1 − k)``, ``T = (WHITE − k)/(1 − k)``
  (Reinhard's extended curve on the excess over the knee) — then sRGB-encoded (the IEC 61966-2-1
  curve, the model space's, evaluated exactly). The inverse (the positive root of a quadratic)
  restores highlights above 1.0 on the way back — exactly, and float32 keeps 1000 within 0.2 % —
  so an edited sun is still a sun; a model output saturated at 1.0 comes back as WHITE. Values
  above WHITE are clipped to it inside the edit; negative (out-of-gamut) Rec.709 values are 0 for
  the model, and so inside the edit. Outside the edit the plate's pixels are kept bit for bit.
* ``"clip"``: straight to sRGB-encoded Rec.709; what lies above display white is clipped for the
  model and comes back as 1.0 inside the edit.
* ``"display/view"``: an OCIO display and view of the active config (e.g.
  ``"sRGB - Display/ACES 2.0 - SDR 100 nits (Rec.709)"``), applied forward for the model and
  inverted on the way back; refused up front where the config cannot invert it.

NaN becomes 0 and ±Inf ±half-max before any conversion (a NaN would spread through a matrix).
"""

from __future__ import annotations

import numpy as np

from ..errors import ColourError
from .colour import _HALF_MAX, MODEL_SPACE, convert

__all__ = ["KNEE", "WHITE", "LINEAR_709", "rolloff", "unroll", "to_model", "from_model", "check_display_view"]

KNEE = 0.8  #: scene-linear Rec.709 value where the filmic roll-off starts
WHITE = 4096.0  #: scene-linear value the roll-off maps to 1.0 (12 stops over display white); above it, clipped
LINEAR_709 = "Linear Rec.709 (sRGB)"


_T_WHITE = (4096.0 - 0.8) / (1.0 - 0.8)


def rolloff(x: np.ndarray) -> np.ndarray:
    """Scene-linear [0, WHITE] → [0, 1]: identity up to :data:`KNEE`, then a smooth, invertible shoulder that
    reaches 1 exactly at :data:`WHITE` (float64: the shoulder's top holds highlights in its last digits)."""
    x = np.clip(np.asarray(x, np.float64), 0.0, WHITE)
    t = np.maximum((x - KNEE) / (1.0 - KNEE), 0.0)
    g = t * (1.0 + t / _T_WHITE**2) / (1.0 + t)
    return np.where(x <= KNEE, x, KNEE + (1.0 - KNEE) * g)


def unroll(y: np.ndarray) -> np.ndarray:
    """The inverse of :func:`rolloff` on [0, 1] (1 → :data:`WHITE`, a saturated model output included)."""
    y = np.clip(np.asarray(y, np.float64), 0.0, 1.0)
    g = np.maximum((y - KNEE) / (1.0 - KNEE), 0.0)
    a = 1.0 / _T_WHITE**2  # a·t² + (1 − g)·t − g = 0, the positive root
    t = 2.0 * g / ((1.0 - g) + np.sqrt((1.0 - g) ** 2 + 4.0 * a * g))
    return np.where(y <= KNEE, y, KNEE + (1.0 - KNEE) * t)


# Written by hand, not through OCIO: OCIO's CPU processor evaluates the sRGB curve with a fast power
# approximation (about 2e-5 absolute error near 1.0), which the inverse shoulder would amplify into
# tens of percent at 1000. The IEC 61966-2-1 curve in float64 round-trips to float precision.
def _srgb_encode(linear: np.ndarray) -> np.ndarray:
    v = np.asarray(linear, np.float64)
    return np.where(v <= 0.0031308, 12.92 * v, 1.055 * np.power(np.maximum(v, 0.0031308), 1 / 2.4) - 0.055)


def _srgb_decode(encoded: np.ndarray) -> np.ndarray:
    e = np.asarray(encoded, np.float64)
    return np.where(e <= 0.04045, e / 12.92, np.power((np.maximum(e, 0.04045) + 0.055) / 1.055, 2.4))


def _display_view(view: str) -> tuple[str, str]:
    display, _, name = view.partition("/")
    return display.strip(), name.strip()


def _ociodisplay(rgb: np.ndarray, plate_space: str, view: str, inverse: bool) -> np.ndarray:
    import OpenImageIO as oiio

    from .colour import resolve_colorspace
    from .exrio import oiio_error

    display, name = _display_view(view)
    buf = oiio.ImageBuf(np.ascontiguousarray(rgb, np.float32))
    out = oiio.ImageBufAlgo.ociodisplay(buf, display, name, fromspace=resolve_colorspace(plate_space),
                                        unpremult=False, inverse=inverse)
    if out.has_error:
        raise ColourError(f"model_view {view!r} cannot be applied{' inversely' if inverse else ''}: {oiio_error(out)}")
    return out.get_pixels(oiio.FLOAT).reshape(rgb.shape)


def check_display_view(view: str) -> None:
    """ColourError unless ``view`` ('display/view') is in the active config and inverts (a ramp round-trips)."""
    import OpenImageIO as oiio

    cfg = oiio.ColorConfig()
    display, name = _display_view(view)
    if display not in cfg.getDisplayNames():
        raise ColourError(f"display {display!r} is not in the OCIO config; displays are "
                          f"{', '.join(cfg.getDisplayNames()[:6])}")
    if name not in cfg.getViewNames(display):
        raise ColourError(f"view {name!r} is not a view of display {display!r}; views are "
                          f"{', '.join(cfg.getViewNames(display))}")
    ramp = np.linspace(0.01, 0.9, 16, dtype=np.float32).reshape(4, 4, 1).repeat(3, axis=2)
    back = _ociodisplay(_ociodisplay(ramp, LINEAR_709, view, False), LINEAR_709, view, True)
    if not np.allclose(back, ramp, rtol=0.02, atol=1e-3):
        raise ColourError(f"model_view {view!r} cannot be inverted by the OCIO config, so the edit could not "
                          "return to scene-linear; use 'filmic' or another view")


def to_model(rgb: np.ndarray, plate_space: str, view: str = "clip") -> np.ndarray:
    """Plate RGB → model space (display-referred) through ``view``; unclipped for 'clip' and display views."""
    clean = np.nan_to_num(rgb, nan=0.0, posinf=_HALF_MAX, neginf=-_HALF_MAX)
    if view == "clip":
        return convert(clean, plate_space, MODEL_SPACE)
    if view == "filmic":
        return _srgb_encode(rolloff(convert(clean, plate_space, LINEAR_709))).astype(np.float32)
    return _ociodisplay(clean, plate_space, view, False)


def from_model(rgb: np.ndarray, plate_space: str, view: str = "clip") -> np.ndarray:
    """Model space → the plate's colour space, inverting ``view``."""
    if view == "clip":
        return convert(rgb, MODEL_SPACE, plate_space)
    if view == "filmic":
        return convert(unroll(_srgb_decode(rgb)).astype(np.float32), LINEAR_709, plate_space)
    return _ociodisplay(np.asarray(rgb, np.float32), plate_space, view, True)
