"""The review's baked display transform (:mod:`recast.core.review.display_lut`) against the exact OCIO processor.

The test image is high dynamic range on purpose: grey and coloured exposure ramps (48 hues at saturations 0, 0.3,
0.6 and 0.9) from 2⁻¹² to 2¹⁴ = 16384 in scene-linear, and the synthetic plate with its sun at 12. Errors are in
8-bit display code values (what the proxies hold), through the config's default view (ACES 2.0 SDR in OIIO's
built-in config).
"""

from __future__ import annotations

import numpy as np
import pytest

from recast.core.io.colour import convert
from recast.core.io.model_view import _ociodisplay
from recast.core.review.display_lut import bake
from recast.core.review.proxies import default_view


def _hdr_ramps() -> np.ndarray:
    stops = 2.0 ** np.linspace(-12, 14, 256)
    h = np.linspace(0, 6, 48, endpoint=False)[:, None]
    hue = np.concatenate([np.clip(np.abs(h - 3) - 1, 0, 1), np.clip(2 - np.abs(h - 2), 0, 1),
                          np.clip(2 - np.abs(h - 4), 0, 1)], axis=1)  # 48 fully saturated hues, Rec.709
    rows = [((1 - s) + s * hue)[:, None, :] * stops[None, :, None] for s in (0.0, 0.3, 0.6, 0.9)]
    return np.concatenate(rows, axis=0).astype(np.float32)  # 192 x 256, linear Rec.709


def _errors(lookup, rgb, space, view):
    exact = np.clip(_ociodisplay(rgb, space, view, False), 0.0, 1.0)
    err = np.abs(lookup.apply(rgb, space) - exact) * 255.0
    return float(err.max()), float(err.mean())


def test_the_baked_view_is_within_a_few_code_values_of_the_exact_transform(tmp_path):
    from recast.core.shot.synthetic import synthetic_frame

    view = default_view()
    lookup = bake(view, str(tmp_path))
    assert lookup is not None and lookup.cube.endswith(".cube")
    ramps = convert(_hdr_ramps(), "Linear Rec.709 (sRGB)", "ACEScg")
    plate = convert(synthetic_frame(0.3, 256, 160)["rgb"].astype(np.float32), "Linear Rec.709 (sRGB)", "ACEScg")
    assert ramps.max() > 10000 and plate.max() > 10  # far above display white
    worst, mean = _errors(lookup, ramps, "ACEScg", view)
    assert worst <= 5.0 and mean <= 0.25, (worst, mean)  # measured: 3.8 and 0.08
    worst, mean = _errors(lookup, plate, "ACEScg", view)
    assert worst <= 2.0 and mean <= 0.5, (worst, mean)  # measured: 1.1 and 0.28
    # another plate space goes through the same lookup (the shaper converts from it)
    worst, mean = _errors(lookup, _hdr_ramps(), "Linear Rec.709 (sRGB)", view)
    assert worst <= 5.0 and mean <= 0.25, (worst, mean)
    # the lookup is not the identity or a clip: it follows the view's highlight roll-off
    grey = np.full((1, 3, 3), [[0.18], [1.0], [16.0]], np.float32).reshape(1, 3, 3)
    shown = lookup.apply(grey, "ACEScg")[0, :, 0]
    assert 0.2 < shown[0] < shown[1] < shown[2] < 1.0


@pytest.mark.parametrize("view", ["clip", "filmic"])
def test_views_that_are_cheap_already_are_not_baked(tmp_path, view):
    assert bake(view, str(tmp_path)) is None


def test_each_exr_is_read_once_and_a_plate_channel_matte_comes_from_that_read(tmp_path, monkeypatch):
    """The proxies of a shot whose matte is the plate's alpha (``input.mask_channel``): every EXR is opened once,
    the plate's proxy and its matte's from the same read."""
    import json
    import shutil

    from recast.core.io import exrio
    from recast.core.job import load_job
    from recast.core.review.proxies import write_proxies
    from recast.core.review.versions import collect
    from recast.core.shot.synthetic import write_synthetic_plate
    from tests.conftest import job_dict

    write_synthetic_plate(str(tmp_path / "plate" / "sh010.####.exr"), 1001, 3, width=64, height=40)
    (tmp_path / "render").mkdir()
    for f in (1001, 1002, 1003):  # a render's frames (the review only reads them)
        shutil.copyfile(tmp_path / "plate" / f"sh010.{f}.exr", tmp_path / "render" / f"sh010_recast.{f}.exr")
    job_file = tmp_path / "job.json"
    job_file.write_text(json.dumps(job_dict(input={"frames": "1001-1003", "mask_channel": "A"})))
    shot = collect(load_job(str(job_file)), str(job_file))
    opened = []
    real_open = exrio._open
    monkeypatch.setattr(exrio, "_open", lambda path: opened.append(path) or real_open(path))
    made = write_proxies(shot, str(tmp_path / "out"), (64, 40), default_view(), threads=2,
                         lookup=bake(default_view(), str(tmp_path)))
    sources = sorted(list(shot.plate.frames.values()) + list(shot.versions[0].frames.values()))
    assert sorted(opened) == sources  # six files, each opened once: the matte's frames are the plate's
    assert made["matte"] == {f: f"frames/matte/{f}.png" for f in (1001, 1002, 1003)}
    assert sorted(made) == ["matte", "plate", "render"]
