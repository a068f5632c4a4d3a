"""A generated shot for the demo and the tests: scene-linear (ACEScg), with a true depth AOV and alpha.

A checkered floor receding to a horizon, a sky with a sun far above 1.0, and a shaded ball
rolling across. Plates the tests need are written by them from this (no binary fixtures).
"""

from __future__ import annotations

import os

import numpy as np

from ..io.exrio import Frame, Header, Window, write_frame

__all__ = ["synthetic_frame", "write_synthetic_plate"]


def synthetic_frame(t: float, width: int, height: int) -> dict[str, np.ndarray]:
    """One frame of the demo scene at time ``t`` (0..1): ``{'rgb', 'alpha', 'depth'}`` float32 arrays."""
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    u = (xs + 0.5) / width - 0.5
    v = (ys + 0.5) / height
    horizon = 0.4
    rgb = np.zeros((height, width, 3), np.float32)
    depth = np.full((height, width), np.inf, np.float32)
    # sky: gradient, and a sun far brighter than 1.0 (scene-linear highlights must survive)
    sky = v < horizon
    rgb[sky] = np.stack([0.25 + 0.3 * v, 0.35 + 0.3 * v, 0.6 + 0.2 * v], -1)[sky]
    sun = (u - 0.3) ** 2 + (v - 0.12) ** 2 < 0.004
    rgb[sun] = (12.0, 10.0, 7.0)
    # floor: camera 1.5 above a plane; distance grows toward the horizon
    floor = ~sky
    z = 1.5 / np.maximum(v - horizon, 1e-3)
    wx = u * z * 2.0 + t * 2.0
    checker = ((np.floor(wx) + np.floor(z)) % 2).astype(np.float32)
    shade = (0.18 + 0.5 * checker) * np.exp(-z / 40.0)
    rgb[floor] = np.stack([shade, shade * 0.9, shade * 0.8], -1)[floor]
    depth[floor] = z[floor]
    # ball: rolls left to right in front of the floor
    cx, cy, r = -0.3 + 0.6 * t, 0.65, 0.12
    d2 = ((u - cx) * width / height) ** 2 + (v - cy) ** 2
    ball = d2 < r * r
    nz = np.sqrt(np.clip(1 - d2 / (r * r), 0, 1))
    lambert = np.clip(0.3 * (u - cx) / r * -1 + 0.8 * nz, 0.05, 1)
    rgb[ball] = np.stack([0.8 * lambert, 0.12 * lambert, 0.08 * lambert], -1)[ball]
    depth[ball] = (3.0 - nz * r * 4)[ball]
    alpha = np.ones((height, width), np.float32)
    return {"rgb": rgb, "alpha": alpha, "depth": depth}


def write_synthetic_plate(pattern: str, first: int, count: int, width: int = 160, height: int = 96,
                          colorspace: str = "ACEScg") -> list[str]:
    """Write the demo scene as EXR frames ``first..first+count-1`` (RGBA half, depth.Z float)."""
    from ..io.colour import convert
    from ..io.frames import SequencePattern

    header = Header(
        path=pattern, channels=("R", "G", "B", "A", "depth.Z"),
        formats=("half", "half", "half", "half", "float"),
        data_window=Window(0, 0, width, height), display_window=Window(0, 0, width, height),
        attributes=(("compression", "string", "zip"), ("oiio:ColorSpace", "string", colorspace)))
    seq = SequencePattern.parse(pattern)
    os.makedirs(seq.folder, exist_ok=True)
    paths = []
    for i in range(count):
        f = synthetic_frame(i / max(count - 1, 1), width, height)
        rgb = convert(f["rgb"], "Linear Rec.709 (sRGB)", colorspace)
        pixels = np.concatenate([rgb, f["alpha"][..., None], f["depth"][..., None]], axis=2)
        path = seq.path(first + i)
        write_frame(path, Frame(header, pixels))
        paths.append(path)
    return paths
