"""The temporal diffusion renderer with the tiny preset: the maths, determinism, windows, strength,
resolution, masks, resume and cancel — judged by the frames it writes and the events it sends."""

import json
import os
import signal
import subprocess

import numpy as np
import pytest
import torch

from stock import stock_frames, stock_pipeline
from recast.core.io.colour import to_model
from recast.core.backends.clip_content import encode_content
from recast.core.shot.synthetic import write_synthetic_plate
from recast.core.pipeline.shot_depth import apply_structure_level, shot_depth
from recast.core.backends.animatediff_net import Engine
from recast.core.errors import Cancelled, ImageError, SequenceError
from recast.core.io.exrio import Window, read_frame
from recast.core.io.frames import FrameRange
from recast.core.job import Job
from recast.core.shot.model_frames import ModelFrames
from recast.core.models.loader import Loader
from recast.core.progress import CancelFlag
from recast.core.pipeline.render import check_inputs, render
from recast.core.pipeline.sampling import frame_noise
from tests.conftest import RECAST, job_dict, listing, write_exr
from tests.test_render import Collect


def _job(tmp_path, **overrides):
    """The sampler's tests compare model-space pictures: the 'clip' view maps them one to one."""
    return Job.from_dict(job_dict(**{"model_view": "clip", **overrides}), str(tmp_path))


def _pixels(job, frames=range(1001, 1007)):
    return {f: read_frame(job.output_sequence.path(f)).pixels for f in frames}


def _model_space(job, f):
    return to_model(read_frame(job.output_sequence.path(f)).rgb(), "ACEScg")


# --- the maths ------------------------------------------------------------------------

def test_one_window_at_temporal_guidance_one_matches_the_stock_pipeline(tmp_path, plate, tiny_preset):
    """Same parts, same noise, embeddings and depth: Recast's sampler and diffusers' AnimateDiff vid2vid
    ControlNet pipeline give the same frames (the written EXR, read back into model space)."""
    ref = tmp_path / "ref.exr"
    write_exr(ref, np.full((32, 48, 3), 0.4, np.float32), ["R", "G", "B"])
    job = _job(tmp_path, window={"length": 8, "overlap": 2}, steps=3, reference_image=str(ref),
               structure_weight=0.8)
    render(job, reporter=Collect())

    loader = Loader(tiny_preset, "cpu")
    checked = check_inputs(job)
    content = encode_content(job, loader, os.path.join(tmp_path, "render", "recast_cache"))
    assert content.cached  # the render's own embeddings
    frames = list(checked.plate.frames)
    depth = shot_depth(job, checked.plate, ModelFrames(checked.plate, "ACEScg", (64, 40), Collect(), []), (64, 40),
                       lambda: loader, Collect(), CancelFlag())
    assert depth.computed == 0
    cond = torch.stack([torch.from_numpy(apply_structure_level(depth.frames[f], 2)) for f in frames])[:, None]
    pipe = stock_pipeline(loader, job.reference_weight)
    stock = stock_frames(pipe, frame_noise(frames, job.seed, (4, 5, 8)),
                         torch.cat([content.negative_embeds, content.prompt_embeds]),
                         torch.cat([content.negative_image_embeds, content.image_embeds])[:, None],
                         cond.half().float(), steps=3, guidance=7.5, structure_weight=0.8)
    ours = np.stack([_model_space(job, f) for f in frames])
    assert stock.shape == ours.shape == (6, 40, 64, 3)
    np.testing.assert_allclose(ours, stock, atol=4e-3)  # the EXR holds half floats


class _CountUNet:
    """Counts UNet calls (batch sizes) until removed: the motion UNet is kept by the loader between engines."""

    def __init__(self, unet):
        self.calls = []
        self._hook = unet.register_forward_hook(lambda m, args, out: self.calls.append(args[0].shape[0]))

    def remove(self):
        self._hook.remove()
        return self.calls


@pytest.fixture(scope="module")
def engine_parts(tiny_preset):
    loader = Loader(tiny_preset, "cpu")
    torch.manual_seed(0)
    latents = torch.randn(4, 4, 5, 8)
    text = torch.randn(2, 77, 32)
    depth = torch.rand(4, 3, 40, 64)
    return loader, latents, text, depth


def test_temporal_guidance_formula_and_its_cost(tmp_path, plate, engine_parts):
    """μ̃ is affine in ω_t with slope μ(∅) − μπ(∅); ω_t = 1 runs one batched pass (no image pass), any other
    value one more, unconditional only; ω = ω_t = 1 runs the conditional pass alone."""
    loader, latents, text, depth = engine_parts
    preds, calls = {}, {}
    for wt in (0.0, 1.0, 2.0):
        engine = Engine(loader, _job(tmp_path, temporal_guidance=wt), reference=False)
        count = _CountUNet(engine.unet)
        engine.scheduler.set_timesteps(4)
        preds[wt] = engine.predict(latents, engine.scheduler.timesteps[1], text, None, depth)
        calls[wt] = count.remove()
    assert calls[1.0] == [2] and calls[0.0] == [2, 1] and calls[2.0] == [2, 1]
    torch.testing.assert_close(preds[2.0] - preds[1.0], preds[1.0] - preds[0.0], atol=1e-5, rtol=1e-4)
    assert (preds[2.0] - preds[1.0]).abs().max() > 1e-4  # the motion modules matter
    engine = Engine(loader, _job(tmp_path, temporal_guidance=1.0, guidance_scale=1.0), reference=False)
    count = _CountUNet(engine.unet)
    engine.predict(latents, engine.scheduler.timesteps[1], text, None, depth)
    assert count.remove() == [1]


def test_overlapping_windows_are_fused_with_falling_weights():
    """Each window's prediction is its index; a frame seen by two windows gets their weighted mean."""
    from recast.core.pipeline import sampler as dn

    captured = {}

    class Fake:
        seen = []
        stochastic_steps = False  # what Backend declares: DDIM-like, no fresh noise between steps

        def stage(self, name):
            from contextlib import nullcontext
            return nullcontext()

        def predict(self, latents, t, conditions, window):
            self.seen.append(latents.shape[0])
            return torch.full_like(latents, float(len(self.seen) - 1))

        def step(self, eps, t, latents):
            return captured.setdefault("eps", eps)

    frames = list(range(10, 17))
    inputs = dn.ShotInputs(frames, None, torch.zeros(7, 4, 1, 1))
    dn.denoise(Fake(), inputs, torch.zeros(7, 4, 1, 1), torch.tensor([999]), [(10, 13), (13, 16)],
               reporter=Collect(), cancel=CancelFlag())
    eps = captured["eps"][:, 0, 0, 0]
    assert Fake.seen == [4, 4]
    # window weights for length 4: ramp (1, 2, 2, 1) / 2 → frame 13 is the last of window 0 and first of window 1
    assert eps[:3].tolist() == [0, 0, 0] and eps[4:].tolist() == [1, 1, 1]
    assert eps[3].item() == pytest.approx(0.5)


# --- determinism, noise, resolution ---------------------------------------------------

def test_same_job_renders_bit_identical_frames(tmp_path, plate):
    job = _job(tmp_path, temporal_guidance=1.5, window={"length": 4, "overlap": 2})
    render(job, reporter=Collect())
    first = _pixels(job)
    for f in first:
        os.remove(job.output_sequence.path(f))
    result = render(job, reporter=Collect())
    assert result.frames == list(first) and result.skipped == []
    for f, px in _pixels(job).items():
        np.testing.assert_array_equal(px, first[f])


def test_shared_frames_start_from_the_same_noise(tmp_path, plate, monkeypatch):
    from recast.core.pipeline import sampler as dn

    starts = []
    real = dn.denoise
    monkeypatch.setattr(dn, "denoise", lambda engine, inputs, latents, *a, **k: (
        starts.append(dict(zip(inputs.frames, latents.clone()))), real(engine, inputs, latents, *a, **k))[1])
    job = _job(tmp_path)
    render(job, reporter=Collect())
    render(job.replace(output={"pattern": "other/x.####.exr"}), FrameRange(1003, 1005), reporter=Collect())
    whole, part = starts
    assert list(part) == [1003, 1004, 1005]
    for f in part:
        torch.testing.assert_close(part[f], whole[f], rtol=0, atol=0)
    assert not torch.equal(whole[1001], whole[1002])


def test_model_size_follows_the_plate_and_the_result_fills_its_data_window(tmp_path):
    """A 96x60 data window inside a 112x68 display window, resolution 64: the model runs at 64x40 and the
    frames come back at the data window, every window kept."""
    scene = write_synthetic_plate(str(tmp_path / "plate" / "sh010.####.exr"), 1001, 3, width=96, height=60)
    for p in scene:
        src = read_frame(p)
        write_exr(p, src.pixels, src.header.channels, src.header.formats, data_window=(8, 4),
                  display_window=(0, 0, 112, 68), attrs=[("oiio:ColorSpace", "string", "ACEScg")])
    job = _job(tmp_path, input={"frames": "1001-1003"})
    rep = Collect()
    render(job, reporter=rep)
    assert rep.events[0]["model_size"] == [64, 40]
    out = read_frame(job.output_sequence.path(1002))
    assert out.header.data_window == Window(8, 4, 96, 60) and out.header.display_window == Window(0, 0, 112, 68)
    assert out.pixels.shape == (60, 96, 5) and out.header.attribute("recast/model_size") == "64x40"


def test_strength_below_one_starts_from_the_plate(tmp_path, plate, tiny_preset, monkeypatch):
    """strength s runs the last s of the steps, starting from the plate's latents noised to that step (SDEdit);
    strength 1 starts from noise alone. The result differs, and keeps more of the plate."""
    from recast.core.pipeline import sampler as dn

    starts = []
    real = dn.denoise
    monkeypatch.setattr(dn, "denoise", lambda engine, inputs, latents, *a, **k: (
        starts.append((latents.clone(), inputs.plate_latents)), real(engine, inputs, latents, *a, **k))[1])
    low = _job(tmp_path, strength=0.3, steps=10, output={"pattern": "low/x.####.exr"})
    full = _job(tmp_path, strength=1.0, steps=10, output={"pattern": "full/x.####.exr"})
    rep = Collect()
    render(low, reporter=rep)
    render(full, reporter=Collect())
    assert {e["steps"] for e in rep.events if e.get("stage") == "denoise"} == {3}
    (low_start, plate_latents), (full_start, none) = starts
    assert none is None  # strength 1 does not even encode the plate
    checked = check_inputs(low)
    engine = Engine(Loader(tiny_preset, "cpu"), low, reference=False)
    frames = ModelFrames(checked.plate, "ACEScg", (64, 40), Collect(), [])
    torch.testing.assert_close(plate_latents[2:3], engine.encode([frames.get(1003)]))
    noise = frame_noise(range(1001, 1007), low.seed, (4, 5, 8))
    sched = engine.scheduler
    sched.set_timesteps(10)
    torch.testing.assert_close(low_start, sched.add_noise(plate_latents, noise, sched.timesteps[7:8]))
    torch.testing.assert_close(full_start, noise * sched.init_noise_sigma)
    recon = engine.decode(plate_latents[2:3])[0]
    assert np.abs(_model_space(low, 1003) - recon).mean() < np.abs(_model_space(full, 1003) - recon).mean()


def test_low_memory_mode_gives_the_same_picture(tmp_path, plate):
    """'low' (chunked feed-forward, sliced ControlNet attention, tiled VAE, one-frame decode) changes how the
    work is cut, not the result: equal to 'fast' within float rounding."""
    fast = _job(tmp_path, memory="fast", output={"pattern": "fast/x.####.exr"})
    low = _job(tmp_path, memory="low", output={"pattern": "low/x.####.exr"})
    render(fast, reporter=Collect())
    render(low, reporter=Collect())
    for f in (1001, 1006):
        np.testing.assert_allclose(_model_space(low, f), _model_space(fast, f), atol=2e-3)


# --- masks ------------------------------------------------------------------------------

def _matte(tmp_path, window=Window(32, 0, 32, 40), channels=("A",)):
    (tmp_path / "matte").mkdir(exist_ok=True)
    for f in range(1001, 1007):
        px = np.ones((window.height, window.width, len(channels)), np.float32)
        px[:, :2] = 0.5  # a soft left edge
        write_exr(tmp_path / "matte" / f"fg.{f}.exr", px, list(channels), data_window=(window.x, window.y),
                  display_window=(0, 0, 64, 40))


def test_matte_sequence_edits_inside_and_keeps_the_plate_bit_exact_outside(tmp_path, plate):
    _matte(tmp_path)  # a matte whose bounding box is the right half of the frame
    job = _job(tmp_path, input={"mask_pattern": "matte/fg.####.exr"})
    render(job, reporter=Collect())
    for f in (1001, 1004):
        src, out = read_frame(plate.replace("####", str(f))), read_frame(job.output_sequence.path(f))
        np.testing.assert_array_equal(out.pixels[:, :32], src.pixels[:, :32])  # outside: every channel, bit for bit
        np.testing.assert_array_equal(out.channel("A"), src.channel("A"))
        assert np.abs(out.rgb()[:, 34:] - src.rgb()[:, 34:]).mean() > 0.01  # inside: edited
        edge, inside = out.rgb()[:, 32], out.rgb()[:, 34]
        assert not np.array_equal(edge, src.rgb()[:, 32]) and not np.array_equal(edge, inside)


def test_bad_mattes_are_one_clear_error_and_write_nothing(tmp_path, plate):
    _matte(tmp_path, channels=("R", "G"))
    job = _job(tmp_path, input={"mask_pattern": "matte/fg.####.exr"})
    with pytest.raises(SequenceError, match="no alpha and 2 channels"):
        render(job, reporter=Collect())
    with pytest.raises(ImageError, match="no channel 'M'; channels are R, G"):
        render(job.replace(input={"mask_channel": "M"}), reporter=Collect())
    os.remove(tmp_path / "matte" / "fg.1003.exr")
    with pytest.raises(SequenceError, match=r"1 frame\(s\) missing: 1003"):
        render(job.replace(input={"mask_channel": "R"}), reporter=Collect())
    assert listing(tmp_path / "render") == [] and not os.path.exists(tmp_path / "render" / "recast_cache")


# --- resume and cancel -------------------------------------------------------------------

def test_finished_frames_are_skipped_and_a_changed_job_or_plate_renders_again(tmp_path, plate):
    job = _job(tmp_path)
    render(job, reporter=Collect())
    before = _pixels(job)
    rep = Collect()
    again = render(job, reporter=rep)
    assert again.frames == [] and again.skipped == list(range(1001, 1007)) and again.timing == {}
    assert all(e.get("skipped") for e in rep.events if e["event"] == "frame")
    src = read_frame(plate.replace("####", "1004"))
    from recast.core.io.exrio import write_frame
    write_frame(plate.replace("####", "1004"), src.with_rgb(src.rgb() * 0.5))  # the plate changed under us
    assert render(job, reporter=Collect()).frames == [1004]
    changed = render(job.replace(prompt="a watercolour street"), reporter=Collect())
    assert changed.frames == list(range(1001, 1007))
    assert not np.array_equal(_pixels(job)[1001], before[1001])


def test_cancel_while_denoising_then_resume_gives_the_uninterrupted_frames(tmp_path, plate):
    reference = _job(tmp_path, steps=3, output={"pattern": "ref/x.####.exr"})
    render(reference, reporter=Collect())
    job = _job(tmp_path, steps=3)
    cancel = CancelFlag()

    class CancelInStepTwo(Collect):
        def progress(self, stage, done, total, **fields):
            super().progress(stage, done, total, **fields)
            if stage == "denoise" and fields.get("step") == 2:
                cancel.set(signal.SIGINT)

    with pytest.raises(Cancelled, match="while denoising"):
        render(job, reporter=CancelInStepTwo(), cancel=cancel)
    assert listing(tmp_path / "render") == []  # no frame, no temporary
    resumed = render(job, reporter=Collect())
    assert resumed.resumed_from_step == 1 and resumed.frames == list(range(1001, 1007))
    ref = _pixels(reference)
    for f, px in _pixels(job).items():
        np.testing.assert_array_equal(px[:, :, :3], ref[f][:, :, :3])
    assert not os.listdir(tmp_path / "render" / "recast_cache" / "state")  # state removed once written


def _killed_then_resumed(tmp_path, job_path, kill_when):
    proc = subprocess.Popen(RECAST + ["render", "--job", str(job_path)], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    for line in proc.stdout:
        if kill_when(json.loads(line)):
            proc.send_signal(signal.SIGKILL)
            break
    proc.wait(timeout=120)
    assert proc.returncode == -signal.SIGKILL
    r = subprocess.run(RECAST + ["render", "--job", str(job_path)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    return [json.loads(line) for line in r.stdout.splitlines()]


def test_killed_process_resumes_to_the_same_frames(tmp_path):
    """SIGKILL mid-denoise, and again mid-write; each rerun finishes with the uninterrupted run's frames."""
    write_synthetic_plate(str(tmp_path / "plate" / "sh010.####.exr"), 1001, 12, width=320, height=200)
    base = job_dict(input={"frames": "1001-1012"}, steps=4, window={"length": 6, "overlap": 2})
    ref_job = tmp_path / "ref.json"
    ref_job.write_text(json.dumps({**base, "output": {"pattern": "ref/x.####.exr"}}))
    ref = subprocess.run(RECAST + ["render", "--job", str(ref_job)], capture_output=True, text=True, timeout=300)
    assert ref.returncode == 0, ref.stderr

    job_path = tmp_path / "job.json"
    job_path.write_text(json.dumps(base))
    ev = _killed_then_resumed(tmp_path, job_path, lambda e: e.get("stage") == "denoise" and e.get("step") == 2)
    done = ev[-1]
    assert done["event"] == "done" and done["resumed_from_step"] in (1, 2, 3) and done["skipped"] == 0

    for f in range(1001, 1013):
        os.remove(tmp_path / "render" / f"sh010_recast.{f}.exr")
    # the finished state is gone with the last frame: this run denoises again, and is killed while writing
    ev = _killed_then_resumed(tmp_path, job_path, lambda e: e["event"] == "frame")
    done = ev[-1]
    assert done["resumed_from_step"] == 4 and 1 <= done["skipped"] < 12 and done["frames"] == 12 - done["skipped"]
    for f in range(1001, 1013):
        a = read_frame(str(tmp_path / "render" / f"sh010_recast.{f}.exr")).pixels
        b = read_frame(str(tmp_path / "ref" / f"x.{f}.exr")).pixels
        np.testing.assert_array_equal(a, b)


_PEAK = """
import resource, sys
from recast.core.cli.main import main
code = main(sys.argv[1:])
print('PEAK', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, flush=True)
sys.exit(code)
"""


def _peak_rss_kb(tmp_path, count):
    first = 1001
    job = tmp_path / f"job{count}.json"
    job.write_text(json.dumps(job_dict(input={"pattern": "plate/big.####.exr", "frames": f"{first}-{first + count - 1}"},
                                       output={"pattern": f"out{count}/x.####.exr"}, steps=1,
                                       window={"length": 8, "overlap": 2})))
    r = subprocess.run([RECAST[0], "-c", _PEAK, "render", "--job", str(job)], capture_output=True, text=True,
                       timeout=600, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    return int(r.stdout.strip().splitlines()[-1].split()[1])


def test_peak_memory_does_not_grow_with_the_shot(tmp_path):
    """48 frames of a 768x480 plate (4.2 MB of RGB a frame in memory) need no more than 16 do: within 15%.
    Holding the plate's frames for the shot would add ~135 MB (~25%) to the 48-frame run."""
    write_synthetic_plate(str(tmp_path / "plate" / "big.####.exr"), 1001, 48, width=768, height=480)
    small, large = _peak_rss_kb(tmp_path, 16), _peak_rss_kb(tmp_path, 48)
    assert large < 1.15 * small, f"peak RSS {small / 1024:.0f} MB for 16 frames, {large / 1024:.0f} MB for 48"
