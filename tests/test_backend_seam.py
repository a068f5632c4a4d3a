"""Backend is the only seam: a third backend, registered by name and named by a preset file, renders through the
unchanged CLI and pipeline — with 4x temporal compression, a causal (streamed) VAE and no real model."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from recast.core.backends import BACKENDS, Backend, backend_class, register_backend
from recast.core.cli.main import main
from recast.core.io.colour import from_model
from recast.core.io.exrio import read_frame
from recast.core.job import job_field
from tests.conftest import job_dict, listing
from tests.test_wan import _plate

C = 4  #: frames per latent frame


class FakeC4(Backend):
    """Latents: 3 channels at 1/8 size, latent 0 holding the first frame alone and latent g the 4 frames after.
    The "denoiser" pulls every latent to a target made of the depth it was conditioned on (folded to the latent
    grid) and a colour per channel, so what the frames show is this backend's output alone."""

    name = "fake-c4"
    description = "fake c4 (a test backend: no model)"
    temporal_compression = C
    size_multiple = 8
    window_limits = (5, 33)
    video_vae = True

    def __init__(self, loader, job):
        super().__init__()
        self.calls, self.decoded = [], []

    @property
    def device(self):
        return torch.device("cpu")

    def latent_shape(self, size):
        return (3, size[1] // 8, size[0] // 8)

    @staticmethod
    def _fold(video):
        """(F = 1 + 4k, ch, H, W) → (k + 1, ch, H/8, W/8): the first frame alone, then groups of 4, 8x8 means."""
        pooled = torch.nn.functional.avg_pool2d(video.float(), 8)
        return torch.cat([pooled[:1], pooled[1:].reshape(-1, C, *pooled.shape[1:]).mean(1)])

    def encode(self, frames):
        self.calls.append(("encode", len(frames)))
        video = torch.from_numpy(np.stack([np.asarray(f, np.float32) for f in frames[:]])).permute(0, 3, 1, 2)
        return self._fold(video)

    def decode(self, latents):
        return np.concatenate(list(self.decode_stream(latents)))

    def decode_stream(self, latents):
        for g in range(latents.shape[0]):
            frame = latents[g].repeat_interleave(8, 1).repeat_interleave(8, 2).permute(1, 2, 0).clamp(0, 1).numpy()
            group = np.repeat(frame[None], 1 if g == 0 else C, axis=0)
            self.decoded.extend(group)
            yield group

    def conditions(self, job, content_cache, depth, masks=None):
        self.calls.append(("conditions", tuple(depth.shape), masks is None))
        colour = torch.tensor([0.2, 0.5, 0.8]).view(1, 3, 1, 1)
        return {"target": 0.6 * colour + 0.4 * self._fold(depth).expand(-1, 3, -1, -1)}

    def timesteps(self, steps, strength):
        return torch.arange(steps, 0, -1)

    def initial_latents(self, noise, plate_latents, timesteps, strength):
        return noise.clone()

    def add_noise(self, clean, noise, timestep):
        return clean

    def step(self, prediction, timestep, latents, noise=None):
        return latents - prediction

    def predict(self, latents, timestep, conditions, window):
        self.calls.append(("predict", window.start, window.stop))
        return latents - conditions["target"][window]


@pytest.fixture
def fake_backend():
    made = []

    class Recorded(FakeC4):
        def __init__(self, loader, job):
            super().__init__(loader, job)
            made.append(self)

    register_backend("fake-c4", Recorded)
    yield made
    BACKENDS.pop("fake-c4")


def test_a_registered_backend_with_4x_temporal_compression_renders_through_the_cli(tmp_path, capsys, fake_backend):
    _plate(tmp_path, 10)  # 1001-1010: on the 4x grid the range is filled to 13 frames, 4 latent frames
    (tmp_path / "fake.toml").write_text('name = "fake"\nbackend = "fake-c4"\n[parts]\n')
    job = job_dict(model="fake.toml", input={"frames": "1001-1010", "depth_channel": "depth.Z"},
                   window={"length": 9, "overlap": 4})
    (tmp_path / "job.json").write_text(json.dumps(job))

    assert main(["render", "--job", str(tmp_path / "job.json"), "--json"]) == 0
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]

    (backend,) = fake_backend
    assert events[0]["event"] == "start" and events[0]["renderer"] == FakeC4.description
    assert events[0]["windows"] == 2 and events[-1]["event"] == "done" and events[-1]["frames"] == 10
    assert [e["frame"] for e in events if e["event"] == "frame"] == list(range(1001, 1011))
    assert listing(tmp_path / "render") == [f"sh010_recast.{f}.exr" for f in range(1001, 1011)]
    # the conditions saw the 13 model frames, no matte; windows of 3 latent frames overlapping by 1, on the grid
    assert ("conditions", (13, 1, 40, 64), True) in backend.calls
    assert [c[1:] for c in backend.calls if c[0] == "predict"] == [(0, 3), (1, 4)] * 2
    assert "encode" not in [c[0] for c in backend.calls]  # strength 1, no mask
    assert len(backend.decoded) == 13  # 1 + 3 groups of 4: the padding is decoded, never written

    outs = [read_frame(str(tmp_path / "render" / f"sh010_recast.{f}.exr")) for f in range(1001, 1011)]
    for i, out in enumerate(outs):  # each frame is what the backend decoded for it, in the plate's colour space
        np.testing.assert_allclose(out.rgb(), from_model(backend.decoded[i], "ACEScg"), rtol=3e-3, atol=1e-3)
        assert out.header.attribute("recast/renderer") == FakeC4.description
    rgb = [o.rgb() for o in outs]
    # a latent frame holds 1001 alone, then 1002-1005, 1006-1009, 1010 (+ 3 repeats): equal within, not across
    for group in ((1, 2, 3, 4), (5, 6, 7, 8)):
        for i in group[1:]:
            np.testing.assert_array_equal(rgb[i], rgb[group[0]])
    for a, b in ((0, 1), (1, 5), (5, 9)):
        assert not np.allclose(rgb[a], rgb[b], atol=1e-3)
    assert rgb[0][..., 0].mean() < rgb[0][..., 2].mean()  # the backend's colour per channel came through


def test_the_backend_checks_its_window_lengths(tmp_path, fake_backend):
    from recast.core.errors import JobError
    from recast.core.job import Job

    for length, ok in ((5, True), (33, True), (9, True), (4, False), (8, False), (37, False)):
        job = Job.from_dict(job_dict(model="fake.toml", window={"length": length, "overlap": 1}), str(tmp_path))
        if ok:
            FakeC4.check_job(job)
        else:
            with pytest.raises(JobError, match=rf"'window.length': {length} is not allowed for the 'fake-c4' "
                                               r"backend; expected 5\.\.33 with length = 1 \+ 4k"):
                FakeC4.check_job(job)


def test_the_job_schema_allows_every_backends_windows_and_leaves_the_limits_to_the_backend():
    info = job_field("window.length")
    for name in ("animatediff", "wan-vace"):
        lo, hi = backend_class(name).window_limits
        assert info.lo <= lo and hi <= info.hi, (name, info.lo, info.hi)
    assert job_field("window.overlap").hi == info.hi - 1


# --- window lengths: the job schema allows what some backend takes, the preset's backend checks ---------------

def _dry_run(tmp_path, capsys, model, length):
    (tmp_path / "job.json").write_text(json.dumps(job_dict(model=model, window={"length": length, "overlap": 1})))
    code = main(["render", "--job", str(tmp_path / "job.json"), "--dry-run"])
    return code, capsys.readouterr().err


def test_wan_windows_of_1_plus_4k_up_to_81_frames_pass_a_dry_run_and_others_are_one_line(tmp_path, capsys, plate):
    for length in (5, 33, 81):
        assert _dry_run(tmp_path, capsys, "tiny-wan", length) == (0, "")
    for length, expected in ((34, "expected 5..81 with length = 1 + 4k"), (4, "expected 5..81 with length = 1 + 4k"),
                             (82, "expected an integer 2..81")):
        code, err = _dry_run(tmp_path, capsys, "tiny-wan", length)
        assert code == 1 and err.count("\n") == 1 and f"'window.length': {length} is not allowed" in err, err
        assert expected in err, err
    code, err = _dry_run(tmp_path, capsys, "tiny", 33)  # AnimateDiff: its motion adapter's 32
    assert code == 1 and err.count("\n") == 1, err
    assert "'window.length': 33 is not allowed for the 'animatediff' backend; expected 2..32" in err
    assert _dry_run(tmp_path, capsys, "tiny", 32) == (0, "")


def test_the_cli_dry_run_refuses_a_wan_window_off_its_grid(tmp_path, plate):  # a dry run checks the plate too
    from tests.conftest import run_cli

    for length, code in ((33, 0), (34, 1)):
        (tmp_path / "job.json").write_text(json.dumps(job_dict(model="tiny-wan", window={"length": length})))
        r = run_cli("render", "--job", tmp_path / "job.json", "--dry-run", timeout=120)
        assert r.returncode == code and r.stderr.count("\n") == code, r.stderr


def test_a_tiny_presets_backend_is_known_before_it_is_built(tiny_preset):
    from recast.core.models.presets import _TINY_BACKENDS, load_preset

    for name, backend in _TINY_BACKENDS.items():
        assert load_preset(name).backend == backend


def test_animatediff_takes_its_motion_adapters_length(tmp_path, tiny_preset):
    """window_limits says 32 before anything is located; a motion adapter trained on fewer frames says less."""
    import dataclasses
    import shutil

    from recast.core.errors import JobError
    from recast.core.job import Job
    from recast.core.models.loader import Loader
    from recast.core.models.parts import locate
    from recast.core.models.presets import ModelPart

    short = tmp_path / "adapter"
    shutil.copytree(locate(tiny_preset, "motion_adapter"), short)
    config = json.loads((short / "config.json").read_text())
    (short / "config.json").write_text(json.dumps({**config, "motion_max_seq_length": 24}))
    preset = dataclasses.replace(tiny_preset, parts={**tiny_preset.parts,
                                                     "motion_adapter": ModelPart("motion_adapter", str(short), local=True)})
    backend = backend_class("animatediff")
    for length, ok in ((24, True), (25, False)):
        job = Job.from_dict(job_dict(window={"length": length, "overlap": 1}), str(tmp_path))
        backend.check_job(job)  # within 2..32
        engine = backend.__new__(backend)
        engine.loader = Loader(preset)
        if ok:
            engine.require_parts(job)
        else:
            with pytest.raises(JobError, match=r"'window.length': 25 is not allowed for the 'animatediff' backend; "
                                               r"expected 2\.\.24 \(the motion adapter's length\)"):
                engine.require_parts(job)
