"""The review's display transform baked once into a lookup, the way players (RV, xStudio, Nuke's viewer) make a
costly view cheap: a shaper into log, then a 3D LUT.

Why: an OCIO display/view such as ACES 2.0's SDR output transform costs about 1.6 µs a pixel on one CPU core
(0.9 s of a 1024x540 proxy); a review of 100 frames and two versions is 300 such proxies. Baked, a proxy's
transform is one colour conversion and one 3D lookup (about 0.05 s).

How (nothing hand-written but the lattice and the file's few header lines):

1. **shaper** — the frame's colour space → ACEScct through OCIO (a matrix and a log curve: cheap, exact). ACEScct
   holds scene-linear 0 to half-float's largest value (65504) in about [0.07, 1.47] with even steps a stop, so the
   lattice spends its points evenly over 25 stops; slightly negative values (out of gamut) reach down to
   :data:`DOMAIN`'s low end, and lower ones are clamped to it.
2. **lattice** — :data:`SIZE`³ ACEScct points through the exact view (OpenImageIO's ``ociodisplay``, from
   ACEScct): the exact transform at every lattice point, once per review (about 0.25 s at 65³).
3. **lookup** — written as an Iridas/Resolve ``.cube`` (``DOMAIN_MIN``/``DOMAIN_MAX`` name the ACEScct range) and
   applied by OCIO itself (``ociofiletransform``, trilinear), in OCIO's vectorised CPU code.

An OCIO processor with a lossy optimisation level would be the other way; OpenImageIO's Python does not expose the
optimisation level, and PyOpenColorIO (whose Baker writes the same kind of file) is not a dependency of the worker.

Error (``tests/test_review_display.py``, against the exact processor over an HDR test image of grey and coloured
exposure ramps from 2⁻¹² to 2¹⁴ plus the synthetic plate's sun): a few 8-bit code values at most, a fraction
of one on average. A config without ACEScct (``$OCIO`` naming another config) gets the exact transform.
"""

from __future__ import annotations

import hashlib
import os

import numpy as np

__all__ = ["SIZE", "DOMAIN", "SHAPER", "DisplayLookup", "bake"]

SIZE = 65  #: lattice points per axis (65³: 274625 exact evaluations, once per review)
SHAPER = "ACEScct"  #: the log space the lattice is even in (the ACES configs' own)
DOMAIN = (-0.05, 1.4683)  #: ACEScct range the lattice covers: linear ≈ -0.012 to 65504 (half-float's largest)


class DisplayLookup:
    """A display/view baked for one review: :meth:`apply` maps scene-linear RGB to display RGB in [0, 1]."""

    def __init__(self, view: str, cube: str):
        self.view = view  #: the OCIO 'display/view' it stands for
        self.cube = cube  #: the .cube file OCIO applies (in a folder the caller removes)

    def apply(self, rgb: np.ndarray, space: str) -> np.ndarray:
        """H×W×3 ``rgb`` in ``space`` → display RGB through the baked view, clipped to [0, 1] (NaN → 0). One OIIO
        thread: the review calls it from its own pool of threads."""
        import OpenImageIO as oiio

        from ..errors import ColourError
        from ..io.exrio import oiio_error

        clean = np.nan_to_num(np.ascontiguousarray(rgb, np.float32), nan=0.0, posinf=65504.0, neginf=-65504.0)
        shaped = oiio.ImageBufAlgo.colorconvert(oiio.ImageBuf(clean), space, SHAPER, nthreads=1)
        out = oiio.ImageBufAlgo.ociofiletransform(shaped, self.cube, nthreads=1) if not shaped.has_error else shaped
        if out.has_error:
            raise ColourError(f"the baked view {self.view!r} cannot be applied: {oiio_error(out)}")
        return np.clip(np.nan_to_num(out.get_pixels(oiio.FLOAT).reshape(rgb.shape), nan=0.0), 0.0, 1.0)


def _lattice(size: int) -> np.ndarray:
    """The lattice as a (size²)×size×3 image, red varying fastest (the order of a .cube's rows)."""
    axis = np.linspace(DOMAIN[0], DOMAIN[1], size, dtype=np.float32)
    b, g, r = np.meshgrid(axis, axis, axis, indexing="ij")
    return np.ascontiguousarray(np.stack([r, g, b], axis=-1).reshape(size * size, size, 3))


def bake(view: str, folder: str, size: int = SIZE) -> DisplayLookup | None:
    """``view`` ('display/view' of the config) baked into ``folder``; None where it cannot be (no ACEScct in the
    config, or 'clip'/'filmic', which are cheap already): the caller uses the exact transform then."""
    from ..io.colour import _config
    from ..io.model_view import _ociodisplay

    if view in ("clip", "filmic") or _config().getColorSpaceIndex(SHAPER) < 0:
        return None
    values = _ociodisplay(_lattice(size), SHAPER, view, False).reshape(-1, 3)
    header = (f"# Recast review: OCIO view {view!r} of {_config().configname()} from {SHAPER}\n"
              f"LUT_3D_SIZE {size}\nDOMAIN_MIN {DOMAIN[0]} {DOMAIN[0]} {DOMAIN[0]}\n"
              f"DOMAIN_MAX {DOMAIN[1]} {DOMAIN[1]} {DOMAIN[1]}\n")
    body = "\n".join(f"{r:.7f} {g:.7f} {b:.7f}" for r, g, b in values.tolist())
    # named by its content: OCIO caches a LUT file by its path, so one path never holds two lookups
    name = hashlib.sha1((header + body).encode()).hexdigest()[:16]
    cube = os.path.join(folder, f"display_{name}.cube")
    with open(cube, "w", encoding="utf-8") as fh:
        fh.write(header + body + "\n")
    return DisplayLookup(view, cube)
