"""The render path end to end, in process: what lands on disk."""

import json
import os

import numpy as np
import pytest

from recast.core.io.colour import resolve_colorspace
from recast.core.errors import Cancelled, SequenceError
from recast.core.io.exrio import read_frame
from recast.core.io.frames import FrameRange
from recast.core.job import Job
from recast.core.progress import CancelFlag, Reporter
from recast.core.shot.matte import composite
from recast.core.backends import backend_class
from recast.core.pipeline.render import render
from tests.conftest import job_dict, listing, write_exr

RENDERER = backend_class("animatediff").description  #: the tiny preset's stack, as the frames record it


class Collect(Reporter):
    def __init__(self):
        super().__init__(stream=open(os.devnull, "w"))
        self.events = []

    def emit(self, event, **fields):
        self.events.append({"event": event, **fields})


def test_render_keeps_layout_channels_and_header(tmp_path, plate):
    job = Job.from_dict(job_dict(), str(tmp_path))
    rep = Collect()
    result = render(job, reporter=rep)
    assert result.frames == list(range(1001, 1007))
    assert listing(tmp_path / "render") == [f"sh010_recast.{f}.exr" for f in range(1001, 1007)]
    for f in result.frames:
        src = read_frame(job.input_sequence.path(f))
        out = read_frame(job.output_sequence.path(f))
        assert out.header.channels == src.header.channels
        assert out.header.formats == src.header.formats
        assert out.header.data_window == src.header.data_window
        assert out.header.display_window == src.header.display_window
        for untouched in ("A", "depth.Z"):
            np.testing.assert_array_equal(out.channel(untouched), src.channel(untouched))
        # RGB: the model's new picture, finite; with the default 'filmic' model view highlights come back above
        # display white (at most the roll-off's white point, 4096 in Rec.709, a little more in ACEScg)
        rgb_in, rgb_out = src.rgb(), out.rgb()
        assert np.isfinite(rgb_out).all() and rgb_out.std() > 0.01
        assert rgb_in.max() > 5 and rgb_out.max() < 4096 * 1.2
        assert np.abs(rgb_out - rgb_in).mean() > 0.01  # an edit, not the plate passed through
        meta = json.loads(out.header.attribute("recast/job"))
        assert meta == job.absolute().to_dict()
        assert out.header.attribute("recast/renderer") == RENDERER
        assert out.header.attribute("recast/fingerprint") == job.fingerprint()
        assert out.header.attribute("recast/range") == "1001-1006"
        assert out.header.attribute("recast/frame") == str(f)
        # OIIO stores the colour interop ID ('lin_ap1_scene'); it names the same space
        assert resolve_colorspace(out.header.attribute("oiio:ColorSpace")) == "ACEScg"
    kinds = [e["event"] for e in rep.events]
    assert kinds[0] == "start" and kinds[-1] == "done"
    assert [e["frame"] for e in rep.events if e["event"] == "frame"] == result.frames
    assert not [e for e in rep.events if e["event"] == "warning"]
    start = rep.events[0]
    assert start["renderer"] == RENDERER and start["model_size"] == [64, 40] and start["windows"] == 2
    steps = [e for e in rep.events if e["event"] == "progress" and e["stage"] == "denoise"]
    assert [(e["step"], e["done"], e["total"]) for e in steps] == [(1, 1, 4), (1, 2, 4), (2, 3, 4), (2, 4, 4)]


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
                                        "colorspace": "Linear Rec.709 (sRGB)"}, model_view="clip"), str(tmp_path))
    rep = Collect()
    render(job, reporter=rep)
    out = read_frame(job.output_sequence.path(1))
    got = out.rgb()
    w = px.shape[1]
    # outside the mask: the plate's scene-linear pixels, NaN/Inf/out-of-range included, bit for bit
    np.testing.assert_array_equal(got[:, : w // 2 - 1], px[:, : w // 2 - 1, :3])
    # inside: the model's result — finite, within what the model space holds, not the plate
    inside = got[:, w // 2:]
    assert np.isfinite(inside).all() and inside.max() <= 1.01 and inside.min() >= 0.0
    assert np.abs(inside - 0.3).mean() > 0.01
    # mask channel and alpha untouched
    np.testing.assert_array_equal(out.channel("matte.Y"), px[:, :, 4])
    warnings = [e["message"] for e in rep.events if e["event"] == "warning"]
    assert any("frame 1: 2 pixels hold NaN or Inf" in m for m in warnings)


def test_composite_blends_the_soft_edge_and_keeps_the_plate_bit_exact():
    plate = np.array([[[0.2, np.nan, 50.0], [0.2, 0.4, 0.6], [0.2, 0.4, np.inf]]], np.float32)
    edit = np.full_like(plate, 0.8)
    weight = np.array([[[0.0], [0.5], [1.0]]], np.float32)
    out = composite(plate, edit, weight)
    np.testing.assert_array_equal(out[0, 0], plate[0, 0])  # NaN and 50.0 kept as they were
    np.testing.assert_allclose(out[0, 1], [0.5, 0.6, 0.7])
    np.testing.assert_array_equal(out[0, 2], edit[0, 2])


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
    assert listing(tmp_path / "render") == ["sh010_recast.1001.exr", "sh010_recast.1002.exr"]


def test_sub_range_and_range_outside_the_job(tmp_path, plate):
    job = Job.from_dict(job_dict(), str(tmp_path))
    result = render(job, FrameRange(1003, 1004), reporter=Collect())
    assert result.frames == [1003, 1004]
    with pytest.raises(SequenceError, match="outside the job's range 1001-1006"):
        render(job, FrameRange(1005, 1010), reporter=Collect())


def test_whole_sequence_when_job_has_no_range(tmp_path, plate):
    job = Job.from_dict(job_dict(input={"frames": None}), str(tmp_path))
    assert render(job, reporter=Collect()).frames == list(range(1001, 1007))


def test_blender_multilayer_render_edits_the_combined_pass_and_uses_its_depth(tmp_path):
    """Blender writes scene renders as multilayer EXRs: no plain R, G, B but 'ViewLayer.Combined.*'."""
    names = ["ViewLayer.Combined.R", "ViewLayer.Combined.G", "ViewLayer.Combined.B", "ViewLayer.Combined.A",
             "ViewLayer.Depth.Z", "ViewLayer.Noisy Image.R", "ViewLayer.Noisy Image.G", "ViewLayer.Noisy Image.B"]
    rng = np.random.default_rng(3)
    os.makedirs(tmp_path / "plate")
    for f in (1, 2):
        px = rng.uniform(0, 1, (24, 40, len(names))).astype(np.float32)
        px[:, :, 4] = np.linspace(2, 9, 40)[None, :]
        write_exr(tmp_path / "plate" / f"sc.{f:04d}.exr", px, names)
    job = Job.from_dict(job_dict(input={"pattern": "plate/sc.####.exr", "frames": "1-2", "colorspace": None,
                                        "depth_channel": "ViewLayer.Depth.Z"}), str(tmp_path))
    render(job, reporter=Collect())
    for f in (1, 2):
        plate, out = read_frame(job.input_sequence.path(f)), read_frame(job.output_sequence.path(f))
        assert out.header.channels == tuple(names)
        assert not np.array_equal(out.rgb(), plate.rgb())  # the Combined pass was edited
        for untouched in names[3:]:
            np.testing.assert_array_equal(out.channel(untouched), plate.channel(untouched))


def test_a_plate_with_several_layers_and_no_combined_pass_is_one_clear_error(tmp_path):
    names = ["diffuse.R", "diffuse.G", "diffuse.B", "spec.R", "spec.G", "spec.B"]
    os.makedirs(tmp_path / "plate")
    write_exr(tmp_path / "plate" / "p.0001.exr", np.zeros((8, 8, 6), np.float32), names)
    job = Job.from_dict(job_dict(input={"pattern": "plate/p.####.exr", "frames": "1-1", "colorspace": None}),
                        str(tmp_path))
    from recast.core.errors import ImageError

    with pytest.raises(ImageError, match=r"needs R, G and B channels to edit \(or one layer with them\)"):
        render(job, reporter=Collect())
    assert listing(tmp_path / "render") == []
