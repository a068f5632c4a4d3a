"""The render path end to end, in process: what lands on disk."""

import json
import os

import numpy as np
import pytest

from recast.core.colour import resolve_colorspace
from recast.core.errors import Cancelled, SequenceError
from recast.core.exrio import read_frame
from recast.core.frames import FrameRange
from recast.core.job import Job
from recast.core.progress import CancelFlag, Reporter
from recast.core.render import render
from tests.conftest import job_dict, write_exr


class Collect(Reporter):
    def __init__(self):
        super().__init__(stream=open(os.devnull, "w"), bar=False)
        self.events = []

    def emit(self, event, **fields):
        self.events.append({"event": event, **fields})


def test_identity_render_keeps_layout_channels_and_header(tmp_path, plate):
    job = Job.from_dict(job_dict(), str(tmp_path))
    rep = Collect()
    result = render(job, reporter=rep)
    assert result.frames == list(range(1001, 1007))
    assert sorted(os.listdir(tmp_path / "render")) == [f"sh010_recast.{f}.exr" for f in range(1001, 1007)]
    for f in result.frames:
        src = read_frame(job.input_sequence.path(f))
        out = read_frame(job.output_sequence.path(f))
        assert out.header.channels == src.header.channels
        assert out.header.formats == src.header.formats
        assert out.header.data_window == src.header.data_window
        assert out.header.display_window == src.header.display_window
        for untouched in ("A", "depth.Z"):
            np.testing.assert_array_equal(out.channel(untouched), src.channel(untouched))
        # RGB: within half precision where the model space holds the value; the sun (ACEScg ~12) is
        # above display white and comes back clipped inside the edit (documented in recast.core.colour)
        rgb_in, rgb_out = src.rgb(), out.rgb()
        in_range = (rgb_in.max(axis=2) < 0.9)
        np.testing.assert_allclose(rgb_out[in_range], rgb_in[in_range], rtol=3e-3, atol=3e-4)
        assert rgb_in.max() > 5 and rgb_out.max() < 1.01
        meta = json.loads(out.header.attribute("recast/job"))
        assert meta == job.absolute().to_dict()
        assert out.header.attribute("recast/renderer") == "identity"
        assert out.header.attribute("recast/frame") == str(f)
        # OIIO stores the colour interop ID ('lin_ap1_scene'); it names the same space
        assert resolve_colorspace(out.header.attribute("oiio:ColorSpace")) == "ACEScg"
    kinds = [e["event"] for e in rep.events]
    assert kinds[0] == "start" and kinds[-1] == "done"
    assert [e["frame"] for e in rep.events if e["event"] == "frame"] == result.frames
    assert any("identity edit" in e.get("message", "") for e in rep.events if e["event"] == "warning")


def _masked_plate(tmp_path):
    h, w = 16, 24
    rgb = np.full((h, w, 3), 0.3, np.float32)
    rgb[2, 3] = (np.nan, 0.5, np.inf)
    rgb[4, 5] = (40.0, -2.0, 0.1)  # far outside what the model space holds
    rgb[10, 20] = (np.nan, 30.0, -1.0)  # inside the masked half
    mask = np.zeros((h, w), np.float32)
    mask[:, w // 2:] = 1.0
    mask[:, w // 2 - 1] = 0.5  # a soft edge
    px = np.concatenate([rgb, np.ones((h, w, 1), np.float32), mask[..., None]], axis=2)
    (tmp_path / "plate").mkdir(exist_ok=True)
    for f in (1, 2):
        write_exr(tmp_path / "plate" / f"m.{f:04d}.exr", px, ["R", "G", "B", "A", "matte.Y"], ["float"] * 5)
    return px


def test_mask_keeps_the_plate_bit_exact_outside(tmp_path):
    px = _masked_plate(tmp_path)
    job = Job.from_dict(job_dict(input={"pattern": "plate/m.####.exr", "frames": "1-2", "mask_channel": "matte.Y",
                                        "colorspace": "Linear Rec.709 (sRGB)"}), str(tmp_path))
    rep = Collect()
    render(job, reporter=rep)
    out = read_frame(job.output_sequence.path(1))
    got = out.rgb()
    w = px.shape[1]
    # outside the mask: the plate's scene-linear pixels, NaN/Inf/out-of-range included, bit for bit
    np.testing.assert_array_equal(got[:, : w // 2 - 1], px[:, : w // 2 - 1, :3])
    # inside: the model's (identity) result — finite, clipped to what the model space holds
    assert np.isfinite(got[:, w // 2:]).all()
    np.testing.assert_allclose(got[0, w // 2 + 1], [0.3, 0.3, 0.3], rtol=1e-3)
    assert got[10, 20, 1] == pytest.approx(1.0, abs=1e-3)
    # mask channel and alpha untouched
    np.testing.assert_array_equal(out.channel("matte.Y"), px[:, :, 4])
    warnings = [e["message"] for e in rep.events if e["event"] == "warning"]
    assert any("frame 1: 2 pixels hold NaN or Inf" in m for m in warnings)


def test_cancel_leaves_only_whole_frames(tmp_path, plate):
    job = Job.from_dict(job_dict(), str(tmp_path))
    cancel = CancelFlag()

    class CancelAfterTwo(Collect):
        def frame(self, frame, path):
            super().frame(frame, path)
            if frame == 1002:
                cancel.set(15)

    with pytest.raises(Cancelled, match="after 2 of 6 frames"):
        render(job, reporter=CancelAfterTwo(), cancel=cancel)
    assert sorted(os.listdir(tmp_path / "render")) == ["sh010_recast.1001.exr", "sh010_recast.1002.exr"]


def test_sub_range_and_range_outside_the_job(tmp_path, plate):
    job = Job.from_dict(job_dict(), str(tmp_path))
    result = render(job, FrameRange(1003, 1004), reporter=Collect())
    assert result.frames == [1003, 1004]
    with pytest.raises(SequenceError, match="outside the job's range 1001-1006"):
        render(job, FrameRange(1005, 1010), reporter=Collect())


def test_whole_sequence_when_job_has_no_range(tmp_path, plate):
    job = Job.from_dict(job_dict(input={"frames": None}), str(tmp_path))
    assert render(job, reporter=Collect()).frames == list(range(1001, 1007))
