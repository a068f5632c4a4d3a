"""The size the model runs at, and resizing between it and the plate.

Policy: the plate's data window keeps its aspect; its long side becomes the job's
``resolution`` and both sides are rounded to a multiple of 8 (the VAE's factor). The result
is resized back to the data window's exact size. Resizing is OpenImageIO's (filtered,
separable); nothing here is hand-written but the rounding.
"""

from __future__ import annotations

import numpy as np

__all__ = ["model_size", "resize"]


def model_size(width: int, height: int, long_side: int, multiple: int = 8) -> tuple[int, int]:
    """``(width, height)`` the model runs at for a ``width``×``height`` plate: aspect kept, multiples of ``multiple``
    (8: the SD VAE's factor; 16 for Wan: its VAE's 8 times its transformer's 2×2 patches)."""
    scale = long_side / max(width, height)
    m = multiple
    return (max(m, int(round(width * scale / m)) * m), max(m, int(round(height * scale / m)) * m))


def resize(img: np.ndarray, width: int, height: int, filtername: str = "", nthreads: int = 0) -> np.ndarray:
    """H×W(×C) float32 array resized to ``width``×``height``. Default filters: 'box' (area average) to shrink,
    'catmull-rom' (sharp, little ringing) to enlarge. Measured here (2 cores) for 1920x1080 RGB ↔ 512x288:
    box 114 ms vs OIIO's default 652 ms down; catmull-rom 360 ms vs the default 431 ms up. ``nthreads``: OIIO's
    threads for it (0: its default pool; 1 where the caller runs its own pool of threads — 2048x1080 → 1024x540
    box took 46 ms on one thread against 140 ms through OIIO's pool inside the review's pool)."""
    if not filtername:
        filtername = "box" if width * height <= img.shape[0] * img.shape[1] else "catmull-rom"
    import OpenImageIO as oiio

    flat = img.ndim == 2
    src = img[:, :, None] if flat else img
    if src.shape[:2] == (height, width):
        return img.astype(np.float32, copy=False)
    buf = oiio.ImageBuf(np.ascontiguousarray(src, np.float32))
    roi = oiio.ROI(0, width, 0, height, 0, 1, 0, src.shape[2])
    out = oiio.ImageBufAlgo.resize(buf, filtername=filtername, roi=roi, nthreads=nthreads)
    if out.has_error:
        raise RuntimeError(out.geterror())
    px = out.get_pixels(oiio.FLOAT).reshape(height, width, src.shape[2])
    return px[:, :, 0] if flat else px
