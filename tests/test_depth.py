"""Structure: depth sources, shot-wide normalisation, structure levels, the cache, `recast depth`."""

import json
import os
from types import SimpleNamespace

import numpy as np
import torch

from recast.core.shot.synthetic import synthetic_frame
from recast.core.pipeline.depth import apply_structure_level, disparity_from_z, estimate_disparity, normalise_shot
from recast.core.cli.depth import run_depth
from recast.core.io.exrio import Frame, Header, Window, read_frame, write_frame
from recast.core.job import Job
from recast.core.progress import CancelFlag
from tests.conftest import events, job_dict, run_cli
from tests.test_render import Collect


def test_z_to_inverse_depth():
    z = np.array([[1.0, 2.0, 4.0, np.inf, 0.0, np.nan, -3.0, 1e10]], np.float32)
    d = disparity_from_z(z)
    np.testing.assert_allclose(d[0, :3], [1.0, 0.5, 0.25])
    assert (d[0, 3:7] == 0).all()  # inf, zero, NaN, negative: no hit, infinitely far
    assert 0 < d[0, 7] < 1e-9


def _grad_energy(img):
    return float((np.diff(img, axis=0) ** 2).mean() + (np.diff(img, axis=1) ** 2).mean())


def test_structure_levels_lose_detail_monotonically():
    depth = synthetic_frame(0.3, 256, 192)["depth"]
    norm, _ = normalise_shot([disparity_from_z(depth)])
    base = norm[0]
    assert apply_structure_level(base, 0) is base  # level 0 is the identity
    energies = []
    for level in range(8):
        out = apply_structure_level(base, level)
        assert out.shape == base.shape and out.dtype == np.float32
        assert 0.0 <= out.min() and out.max() <= 1.0
        energies.append(_grad_energy(out))
    assert all(a > b for a, b in zip(energies, energies[1:])), energies


def test_shot_wide_normalisation_is_steady_when_an_object_enters():
    """Background stays at one value in every frame; per-frame min/max would re-map it when the object enters."""
    frames = []
    for t in range(4):
        d = np.full((32, 32), 0.1, np.float32)  # far wall
        d[8:24, 8:24] = 0.3  # a box
        if t >= 2:
            d[0:4, 0:4] = 2.0  # something very near enters
        frames.append(d)
    norm, _ = normalise_shot(frames)
    wall = [n[30, 30] for n in norm]
    box = [n[16, 16] for n in norm]
    assert len(set(wall)) == 1 and len(set(box)) == 1
    per_frame = [(d - d.min()) / (d.max() - d.min()) for d in frames]  # what depth2img does
    assert per_frame[0][16, 16] != per_frame[3][16, 16]


def _plate_with_brightness(tmp_path, gains):
    (tmp_path / "plate").mkdir()
    base = synthetic_frame(0.5, 64, 40)
    header = Header(path="", channels=("R", "G", "B", "A", "Z"), formats=("half",) * 4 + ("float",),
                    data_window=Window(0, 0, 64, 40), display_window=Window(0, 0, 64, 40))
    for i, g in enumerate(gains):
        px = np.concatenate([base["rgb"] * g, base["alpha"][..., None], base["depth"][..., None]], axis=2)
        write_frame(str(tmp_path / "plate" / f"sh010.{1001 + i}.exr"), Frame(header, px))
    return base


def test_aov_depth_identical_when_only_brightness_changes(tmp_path):
    _plate_with_brightness(tmp_path, [1.0, 0.5, 2.0])
    job = Job.from_dict(job_dict(input={"frames": "1001-1003", "depth_channel": "Z",
                                        "colorspace": "Linear Rec.709 (sRGB)"}), str(tmp_path))
    depth = run_depth(job, None, Collect(), CancelFlag())
    assert depth.source == "aov:Z"
    a, b, c = (depth.frames[f] for f in (1001, 1002, 1003))
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, c)


class _BrightnessDepth(torch.nn.Module):
    """A stand-in estimator with the transformers interface whose inverse depth is the image's brightness
    (in the demo scene nearer things are brighter), to check conventions and plumbing, not learning."""

    def __init__(self):
        super().__init__()
        self.p = torch.nn.Parameter(torch.zeros(1))

    def forward(self, pixel_values):
        return SimpleNamespace(predicted_depth=pixel_values.mean(1) + 0 * self.p)


def test_aov_and_estimator_agree_on_ordering():
    scene = synthetic_frame(0.5, 96, 64)
    rgb = np.clip(scene["rgb"] / scene["rgb"].max(), 0, 1)
    proc = lambda images, return_tensors, do_rescale: {  # noqa: E731
        "pixel_values": torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2)}
    est = estimate_disparity([rgb], _BrightnessDepth(), proc)[0]
    aov = disparity_from_z(scene["depth"])
    near, far = (40, 30), (30, 48)  # a ball pixel and a distant floor pixel
    assert scene["depth"][near] < scene["depth"][far]
    assert aov[near] > aov[far] and est[near] > est[far]


def test_estimated_depth_is_cached_and_a_changed_frame_recomputed(tmp_path, plate):
    job = Job.from_dict(job_dict(), str(tmp_path))
    first = run_depth(job, None, Collect(), CancelFlag())
    assert first.computed == 6 and first.source.startswith("estimator:")
    files = sorted(os.listdir(os.path.dirname(first.sequence.path(1001))))
    assert files == [f"depth.{f}.exr" for f in range(1001, 1007)] + ["shot.json"]
    d = read_frame(first.sequence.path(1003))
    assert d.header.channels == ("depth.Z",) and d.header.formats == ("float",)
    assert d.header.display_window == read_frame(plate.replace("####", "1003")).header.display_window
    np.testing.assert_array_equal(d.pixels[:, :, 0], first.frames[1003])

    again = run_depth(job.replace(prompt="something else entirely", seed=99), None, Collect(), CancelFlag())
    assert again.computed == 0 and again.sequence == first.sequence
    for f in range(1001, 1007):
        np.testing.assert_array_equal(again.frames[f], first.frames[f])

    src = read_frame(plate.replace("####", "1003"))
    write_frame(plate.replace("####", "1003"), src.with_rgb(src.rgb() * 0.5))  # frame 1003 is graded down
    changed = run_depth(job, None, Collect(), CancelFlag())
    assert changed.computed == 1 and changed.sequence != first.sequence
    assert not np.array_equal(changed.frames[1003], first.frames[1003])


def test_depth_command_speaks_the_protocol(tmp_path, job_file):
    r = run_cli("depth", "--job", job_file(input={"depth_channel": "depth.Z"}))
    assert r.returncode == 0, r.stderr
    ev = events(r.stdout)
    assert ev[0]["event"] == "start" and ev[0]["source"] == "aov:depth.Z"
    frames = [e for e in ev if e["event"] == "frame"]
    assert [e["frame"] for e in frames] == list(range(1001, 1007)) and all(os.path.isfile(e["path"]) for e in frames)
    assert ev[-1]["event"] == "done" and ev[-1]["computed"] == 6
    manifest = json.loads(open(os.path.join(os.path.dirname(frames[0]["path"]), "shot.json")).read())
    assert manifest["source"] == "aov:depth.Z"


def test_depth_channel_that_is_not_there(tmp_path, job_file):
    r = run_cli("depth", "--job", job_file(input={"depth_channel": "Z"}))
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert "no channel 'Z'" in r.stderr and "depth.Z" in r.stderr
    assert not os.path.exists(tmp_path / "render" / "recast_cache")
