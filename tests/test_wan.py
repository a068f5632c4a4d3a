"""The second backend, Wan 2.1 VACE, on the tiny-wan preset: the same job file, EXR fidelity, masks, reference,
strength, windows on the 4× latent grid, the stock pipeline, the farm, resume and the hosts."""

from __future__ import annotations

import json
import os
import signal
import subprocess

import numpy as np
import pytest

from recast.core.io.exrio import read_frame, read_header
from recast.core.job import Job
from recast.core.pipeline.render import render
from recast.core.shot.synthetic import write_synthetic_plate
from tests.conftest import RECAST, events, job_dict, listing, run_cli, write_exr
from tests.test_render import Collect

WAN = {"model": "tiny-wan", "resolution": 64, "steps": 2, "window": {"length": 9, "overlap": 4}, "handles": 4}


def _plate(tmp_path, count, width=64, height=40, first=1001):
    write_synthetic_plate(str(tmp_path / "plate" / "sh010.####.exr"), first, count, width=width, height=height)


def _job(tmp_path, frames, **overrides) -> Job:
    return Job.from_dict(job_dict(**{**WAN, "input": {"frames": frames}, **overrides}), str(tmp_path))


def test_tiny_wan_renders_through_the_cli_and_keeps_every_frames_layout(tmp_path):
    _plate(tmp_path, 6)  # not 1 + 4k frames: the range is filled to 9 on the latent grid, 6 come out
    (tmp_path / "job.json").write_text(json.dumps(job_dict(**WAN)))
    r = run_cli("render", "--job", tmp_path / "job.json")
    assert r.returncode == 0, r.stderr
    ev = events(r.stdout)
    assert ev[0]["renderer"].startswith("Wan 2.1 VACE") and ev[0]["model_size"] == [64, 32]  # multiples of 16
    assert [e["frame"] for e in ev if e["event"] == "frame"] == list(range(1001, 1007))
    assert listing(tmp_path / "render") == [f"sh010_recast.{f}.exr" for f in range(1001, 1007)]
    for f in range(1001, 1007):
        plate = read_frame(str(tmp_path / "plate" / f"sh010.{f}.exr"))
        out = read_frame(str(tmp_path / "render" / f"sh010_recast.{f}.exr"))
        assert out.header.channels == plate.header.channels and out.header.formats == plate.header.formats
        assert out.header.data_window == plate.header.data_window
        assert np.array_equal(out.pixels[:, :, 3:], plate.pixels[:, :, 3:])  # alpha and depth kept
        assert not np.allclose(out.pixels[:, :, :3], plate.pixels[:, :, :3], atol=1e-2)  # edited
        assert "Wan 2.1 VACE" in out.header.attribute("recast/renderer")


def test_what_the_backend_cannot_honour_is_one_line_naming_field_and_backend(tmp_path, plate, tiny_preset):
    # (a LoRA it can: Wan LoRAs, tests/test_wan_tiers.py; one of another base is one line there)
    (tmp_path / "job.json").write_text(json.dumps(job_dict(**WAN, temporal_guidance=1.5)))
    r = run_cli("render", "--job", tmp_path / "job.json")
    assert r.returncode == 1 and r.stderr.count("\n") == 1, r.stderr
    assert "job field 'temporal_guidance' is not supported by the 'wan-vace' backend" in r.stderr
    assert not listing(tmp_path / "render")


def test_a_masked_edit_keeps_the_plate_bit_exact_outside_the_mask(tmp_path):
    _plate(tmp_path, 9)
    os.makedirs(tmp_path / "hand")
    matte = np.zeros((40, 64, 1), np.float32)
    matte[:, 32:] = 1.0
    for f in range(1001, 1010):
        write_exr(tmp_path / "hand" / f"m.{f}.exr", matte, ["A"], ["half"])
    job = _job(tmp_path, "1001-1009", input={"frames": "1001-1009", "mask_pattern": "hand/m.####.exr"})
    render(job, reporter=Collect())
    for f in range(1001, 1010):
        src = read_frame(str(tmp_path / "plate" / f"sh010.{f}.exr")).pixels
        out = read_frame(job.output_sequence.path(f)).pixels
        assert np.array_equal(out[:, :32], src[:, :32])
        assert not np.allclose(out[:, 32:, :3], src[:, 32:, :3], atol=1e-2)


def test_a_reference_image_changes_the_result(tmp_path):
    _plate(tmp_path, 5)
    write_exr(tmp_path / "ref.exr", np.full((32, 48, 3), 0.7, np.float32), ["R", "G", "B"])
    plain = _job(tmp_path, "1001-1005", output={"pattern": "plain/x.####.exr"})
    ref = _job(tmp_path, "1001-1005", output={"pattern": "ref/x.####.exr"}, reference_image="ref.exr")
    render(plain, reporter=Collect())
    render(ref, reporter=Collect())
    assert not np.allclose(read_frame(ref.output_sequence.path(1003)).pixels,
                           read_frame(plain.output_sequence.path(1003)).pixels, atol=1e-3)


def test_strength_below_one_starts_from_the_plate_mixed_with_noise_at_the_first_sigma(tmp_path, monkeypatch):
    import torch

    from recast.core.pipeline import sampler

    _plate(tmp_path, 5)
    job = _job(tmp_path, "1001-1005", strength=0.5, steps=4)
    seen = {}
    real = sampler.denoise

    def spy(backend, inputs, latents, timesteps, windows, **kw):
        seen.update(backend=backend, inputs=inputs, latents=latents.clone(), timesteps=timesteps)
        return real(backend, inputs, latents, timesteps, windows, **kw)

    monkeypatch.setattr(sampler, "denoise", spy)
    render(job, reporter=Collect())
    backend, inputs, timesteps = seen["backend"], seen["inputs"], seen["timesteps"]
    assert len(timesteps) == 2  # the last half of 4 steps
    sigma = backend.scheduler.sigmas[2]
    expected = (1 - sigma) * inputs.plate_latents + sigma * inputs.noise.to(inputs.plate_latents.device)
    torch.testing.assert_close(seen["latents"], expected, rtol=0, atol=1e-5)


@pytest.mark.parametrize("model, folder", [("tiny-wan", "wan"), ("tiny-wan22", "wan22")])
def test_one_window_equals_the_stock_wan_vace_pipeline(tmp_path, tiny_preset, model, folder):
    """Same parts, noise, prompt, control video (the render's depth) and guidance: Recast's sampler over one window
    gives diffusers' WanVACEPipeline's frames (read back from the EXRs in model space: the 'clip' view). Wan 2.2: the
    stock pipeline reads the boundary from the folder's model_index.json and runs the high-noise expert for the
    first of the 2 steps (t = 1000), the low-noise one for the second (t = 3)."""
    import torch
    from diffusers import WanVACEPipeline

    from recast.core.io.colour import to_model
    from recast.core.pipeline.depth import apply_structure_level
    from recast.core.pipeline.plan import plan_render
    from recast.core.pipeline.stages import _noise

    _plate(tmp_path, 9, width=64, height=32)  # the model's own size: nothing is resized
    job = _job(tmp_path, "1001-1009", model=model, model_view="clip", guidance_scale=4.0, structure_weight=0.8)
    render(job, reporter=Collect())
    plan = plan_render(job.resolved())
    noise = _noise(plan, job.seed, (16, 4, 8), 0)  # (latent frames, 16, h, w)
    depth_dir = tmp_path / "render" / "recast_cache" / "depth"
    (shot,) = [d for d in os.listdir(depth_dir) if d != "raw"]
    control = []
    for f in range(1001, 1010):
        d = read_frame(str(depth_dir / shot / f"depth.{f}.exr")).channel("depth.Z")  # the canvas: the model's size
        d = apply_structure_level(d.astype(np.float32), job.structure_level).astype(np.float16)  # as Recast holds it
        control.append(np.repeat(d[..., None], 3, axis=2))
    pipe = WanVACEPipeline.from_pretrained(os.path.join(os.path.dirname(tiny_preset.path), folder),
                                           local_files_only=True)
    if folder == "wan22":  # both experts, and the boundary between the 2 steps
        assert pipe.transformer_2 is not None and 3 < pipe.config.boundary_ratio * 1000 <= 1000
    pipe.set_progress_bar_config(disable=True)
    stock = pipe(video=[np.stack(control)], prompt=job.prompt, negative_prompt=job.negative_prompt, height=32, width=64,
                 num_frames=9, num_inference_steps=2, guidance_scale=4.0, conditioning_scale=0.8,
                 latents=noise.permute(1, 0, 2, 3)[None], output_type="np").frames[0]
    for i, f in enumerate(range(1001, 1010)):
        ours = to_model(read_frame(job.output_sequence.path(f)).rgb(), "ACEScg", "clip")
        np.testing.assert_allclose(np.clip(ours, 0, 1), stock[i], atol=2e-3)
    del torch


def test_a_chunked_render_through_openjd_matches_the_one_process_render_inside_the_chunks(tmp_path):
    import shlex
    import sys

    _plate(tmp_path, 17)
    (tmp_path / "job.json").write_text(json.dumps(job_dict(**WAN, input={"frames": "1001-1017"})))
    (tmp_path / "one.json").write_text(json.dumps(job_dict(**WAN, input={"frames": "1001-1017"},
                                                             output={"pattern": "one/x.####.exr"})))
    assert run_cli("render", "--job", tmp_path / "one.json").returncode == 0
    r = run_cli("farm", "openjd", "--job", tmp_path / "job.json", "--chunk-size", "9", "--out", tmp_path / "bundle")
    assert r.returncode == 0, r.stderr
    argv = shlex.split(r.stdout.strip().splitlines()[-1])
    run = subprocess.run([os.path.join(os.path.dirname(sys.executable), argv[0]), *argv[1:]], capture_output=True,
                         text=True, timeout=900)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert listing(tmp_path / "render") == [f"sh010_recast.{f}.exr" for f in range(1001, 1018)]
    for f in (1002, 1003, 1014, 1016):  # away from the chunks' boundary, which assemble cross-fades
        a = read_frame(str(tmp_path / "render" / f"sh010_recast.{f}.exr")).pixels[:, :, :3]  # depth.Z has inf
        b = read_frame(str(tmp_path / "one" / f"x.{f}.exr")).pixels[:, :, :3]
        # the first chunk starts where the shot does (the same latent grid, noise and VAE state; only its last window
        # slides back inside the range); the second starts its causal VAE, and its first latent frame, at 1005:
        # measured 0.018, where this plate's frames change by 0.026 from one to the next
        limit = 0.005 if f < 1009 else 0.03
        assert np.abs(a - b).mean() < limit, (f, float(np.abs(a - b).mean()))


def test_a_killed_render_resumes_to_the_uninterrupted_frames(tmp_path):
    _plate(tmp_path, 9)
    base = job_dict(**{**WAN, "steps": 4, "input": {"frames": "1001-1009"}})
    (tmp_path / "ref.json").write_text(json.dumps({**base, "output": {"pattern": "ref/x.####.exr"}}))
    assert run_cli("render", "--job", tmp_path / "ref.json").returncode == 0
    (tmp_path / "job.json").write_text(json.dumps(base))
    proc = subprocess.Popen(RECAST + ["render", "--job", str(tmp_path / "job.json")], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    for line in proc.stdout:
        e = json.loads(line)
        if e.get("stage") == "denoise" and e.get("step") == 3:
            proc.send_signal(signal.SIGKILL)
            break
    proc.wait(timeout=120)
    r = run_cli("render", "--job", tmp_path / "job.json")
    assert r.returncode == 0, r.stderr
    assert events(r.stdout)[-1]["resumed_from_step"] in (2, 3)
    for f in range(1001, 1010):
        np.testing.assert_array_equal(read_frame(str(tmp_path / "render" / f"sh010_recast.{f}.exr")).pixels,
                                      read_frame(str(tmp_path / "ref" / f"x.{f}.exr")).pixels)


def test_models_check_knows_what_a_wan_preset_needs():
    r = run_cli("models", "check", "--model", "tiny-wan", "--json")
    assert r.returncode == 0, r.stderr
    assert [p["role"] for p in json.loads(r.stdout)["parts"]] == ["base", "depth", "clip", "matte"]


from tests.test_nuke import finish, gui, nuke, read_plate, recast_node  # noqa: E402,F401 (fixtures)


def test_the_nuke_node_renders_with_the_wan_backend(gui, plate, tmp_path):
    node = recast_node(gui, read_plate(gui, plate), tmp_path / "out", model="tiny-wan", window_length=9,
                       window_overlap=4, steps=2)
    gui.fake_press(node, "render")
    finish(gui, node)
    assert not gui.fake_messages(), gui.fake_messages()
    h = read_header(str(tmp_path / "out" / "render" / "v001" / "Recast1.1001.exr"))
    assert h.attribute("recast/renderer").startswith("Wan 2.1 VACE")
