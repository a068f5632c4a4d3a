"""Wan at production length, speed and scale, on the tiny presets: windows of Wan's own lengths (33, 81 frames), Wan
2.2's two experts switching at the checkpoint's boundary (``tiny-wan22``), the distilled fast tier (``tiny-wan-fast``),
job LoRAs on Wan through diffusers' Wan LoRA loader and their safety rules, and the memory preflight's Wan 2.2 figures."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from recast.core.io.exrio import read_frame
from recast.core.job import Job
from recast.core.pipeline.render import render
from recast.core.shot.synthetic import write_synthetic_plate
from tests.conftest import events, job_dict, listing, run_cli
from tests.test_render import Collect

WAN = {"model": "tiny-wan", "resolution": 64, "steps": 2, "window": {"length": 9, "overlap": 4}, "handles": 0}


def _plate(tmp_path, count, width=64, height=32, first=1001):
    write_synthetic_plate(str(tmp_path / "plate" / "sh010.####.exr"), first, count, width=width, height=height)


def _job(tmp_path, frames, **overrides) -> Job:
    return Job.from_dict(job_dict(**{**WAN, "input": {"frames": frames}, **overrides}), str(tmp_path))


class Passes:
    """Every transformer pass of a render, by a forward hook on the Wan transformer class: which weights ran (the
    expert's subfolder, told by its output projection's weights), at which timestep, over how many latent frames,
    and for how long."""

    def __init__(self, monkeypatch, folder=None):
        import time

        from diffusers import WanVACETransformer3DModel

        self.calls, self.seconds = [], 0.0
        self.experts = {}
        if folder is not None:
            from safetensors.torch import load_file

            for name in ("transformer", "transformer_2"):
                (f,) = [n for n in os.listdir(os.path.join(folder, name)) if n.endswith(".safetensors")]
                self.experts[name] = load_file(os.path.join(folder, name, f))["proj_out.weight"]
        real = getattr(WanVACETransformer3DModel.forward, "unhooked", WanVACETransformer3DModel.forward)

        def forward(model, hidden_states, timestep, *args, **kwargs):
            began = time.perf_counter()
            out = real(model, hidden_states, timestep, *args, **kwargs)
            self.seconds += time.perf_counter() - began
            which = [n for n, w in self.experts.items() if w.shape == model.proj_out.weight.shape
                     and bool((w == model.proj_out.weight.detach().cpu()).all())]
            self.calls.append((which[0] if which else "?", float(timestep.flatten()[0]), hidden_states.shape[2]))
            return out

        forward.unhooked = real  # a later Passes hooks the model itself, not this hook
        monkeypatch.setattr(WanVACETransformer3DModel, "forward", forward)


# --- Wan's own lengths ------------------------------------------------------------------------------------------

def _long_window(tmp_path, monkeypatch, frames):
    _plate(tmp_path, frames)
    job = _job(tmp_path, f"1001-{1000 + frames}", steps=1, window={"length": frames, "overlap": 4})
    passes = Passes(monkeypatch)
    render(job, reporter=Collect())
    # one window over the whole shot: every pass sees all (frames - 1) / 4 + 1 latent frames
    assert [c[2] for c in passes.calls] == [(frames - 1) // 4 + 1] * 2  # 1 step, cond + uncond
    assert listing(tmp_path / "render") == [f"sh010_recast.{f}.exr" for f in range(1001, 1001 + frames)]
    for f in (1001, 1000 + frames // 2, 1000 + frames):
        out = read_frame(job.output_sequence.path(f)).pixels[:, :, :3]
        plate = read_frame(str(tmp_path / "plate" / f"sh010.{f}.exr")).pixels[:, :, :3]
        assert np.isfinite(out).all() and not np.allclose(out, plate, atol=1e-2)


def test_a_wan_window_of_33_frames_renders_as_one_window(tmp_path, monkeypatch):
    _long_window(tmp_path, monkeypatch, 33)


@pytest.mark.slow
def test_a_wan_window_of_81_frames_renders_as_one_window(tmp_path, monkeypatch):
    _long_window(tmp_path, monkeypatch, 81)


# --- Wan 2.2: two experts ---------------------------------------------------------------------------------------

def test_tiny_wan22_renders_running_the_high_noise_expert_down_to_the_checkpoints_boundary(tmp_path, monkeypatch,
                                                                                            tiny_preset):
    from diffusers import FlowMatchEulerDiscreteScheduler

    folder = os.path.join(os.path.dirname(tiny_preset.path), "wan22")
    with open(os.path.join(folder, "model_index.json")) as fh:
        boundary = json.load(fh)["boundary_ratio"] * 1000  # the checkpoint's config says where the switch is
    scheduler = FlowMatchEulerDiscreteScheduler.from_pretrained(folder, subfolder="scheduler")
    scheduler.set_timesteps(8)
    expected = ["transformer" if float(t) >= boundary else "transformer_2" for t in scheduler.timesteps]
    assert 0 < expected.count("transformer") < 8  # both experts take part at 8 steps

    _plate(tmp_path, 9)
    job = _job(tmp_path, "1001-1009", model="tiny-wan22", steps=None, guidance_scale=None)  # its defaults: 8 steps, 4.0
    passes = Passes(monkeypatch, folder)
    render(job, reporter=Collect())
    assert [c[0] for c in passes.calls] == [e for e in expected for _ in range(2)]  # cond + uncond a step
    assert [c[1] for c in passes.calls[::2]] == [float(t) for t in scheduler.timesteps]
    out = read_frame(job.output_sequence.path(1005))
    assert out.header.attribute("recast/renderer").startswith("Wan 2.2 VACE (two experts")
    assert not np.allclose(out.pixels[:, :, :3], read_frame(str(tmp_path / "plate" / "sh010.1005.exr")).pixels[:, :, :3],
                           atol=1e-2)


@pytest.mark.slow
def test_a_killed_wan22_render_resumes_to_the_uninterrupted_frames(tmp_path):
    """A resumed render picks each step's expert by its timestep, as the uninterrupted one did."""
    import signal
    import subprocess

    from tests.conftest import RECAST

    _plate(tmp_path, 9)
    base = job_dict(**{**WAN, "model": "tiny-wan22", "steps": 4, "input": {"frames": "1001-1009"}})
    (tmp_path / "ref.json").write_text(json.dumps({**base, "output": {"pattern": "ref/x.####.exr"}}))
    assert run_cli("render", "--job", tmp_path / "ref.json").returncode == 0
    (tmp_path / "job.json").write_text(json.dumps(base))
    proc = subprocess.Popen(RECAST + ["render", "--job", str(tmp_path / "job.json")], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    for line in proc.stdout:
        e = json.loads(line)
        if e.get("stage") == "denoise" and e.get("step") == 3:  # past the boundary: the low-noise expert's steps
            proc.send_signal(signal.SIGKILL)
            break
    proc.wait(timeout=120)
    r = run_cli("render", "--job", tmp_path / "job.json")
    assert r.returncode == 0, r.stderr
    assert events(r.stdout)[-1]["resumed_from_step"] in (2, 3)
    for f in range(1001, 1010):
        np.testing.assert_array_equal(read_frame(str(tmp_path / "render" / f"sh010_recast.{f}.exr")).pixels,
                                      read_frame(str(tmp_path / "ref" / f"x.{f}.exr")).pixels)


# --- the distilled fast tier ------------------------------------------------------------------------------------

def test_tiny_wan_fast_spends_under_a_tenth_of_tiny_wans_transformer_passes_at_each_presets_defaults(tmp_path,
                                                                                                      monkeypatch):
    _plate(tmp_path, 5)
    counted = {}
    for model in ("tiny-wan", "tiny-wan-fast"):
        job = _job(tmp_path, "1001-1005", model=model, steps=None, guidance_scale=None,
                   output={"pattern": f"{model}/x.####.exr"})
        passes = Passes(monkeypatch)
        render(job, reporter=Collect())
        counted[model] = passes
        assert len(listing(tmp_path / model)) == 5
    # tiny-wan: 30 steps with guidance 5 (two passes a step); the fast tier: 4 steps without guidance
    assert len(counted["tiny-wan"].calls) == 60 and len(counted["tiny-wan-fast"].calls) == 4
    assert len(counted["tiny-wan-fast"].calls) <= 0.3 * len(counted["tiny-wan"].calls)
    # the distilled students' own timesteps: σ = 1, 3/4, 1/2, 1/4 shifted by 5 (LightX2V's step list at shift 5)
    np.testing.assert_allclose([c[1] for c in counted["tiny-wan-fast"].calls], [1000.0, 937.5, 833.333, 625.0],
                               atol=0.01)
    h = read_frame(str(tmp_path / "tiny-wan-fast" / "x.1003.exr")).header
    assert "fast tier" in h.attribute("recast/renderer")


@pytest.mark.slow
def test_a_preview_of_a_wan_job_renders_with_the_wan_fast_tier(tmp_path, capsys):
    from recast.core.cli.main import main

    _plate(tmp_path, 9)
    (tmp_path / "job.json").write_text(json.dumps(job_dict(**{**WAN, "steps": 30, "guidance_scale": 5.0,
                                                              "input": {"frames": "1001-1009"}})))
    assert main(["render", "--job", str(tmp_path / "job.json"), "--preview", "--json"]) == 0, capsys.readouterr().err
    version = tmp_path / "render" / "recast_previews" / "v001"
    made = json.loads((version / "job.json").read_text())
    assert (made["model"], made["steps"], made["guidance_scale"]) == ("tiny-wan-fast", None, None)  # its own 4 and 1
    h = read_frame(str(version / "sh010_recast.1001.exr")).header
    assert "fast tier" in h.attribute("recast/renderer") and h.attribute("recast/steps") in (4, "4")


def _lora(tmp_path, name, **kw):
    from recast.core.models.tiny_wan import tiny_wan_lora

    return tiny_wan_lora(str(tmp_path / "loras" / name), seed=kw.pop("seed", 5), **kw)


def _renders(tmp_path, cases):
    out = {}
    for name, loras in cases:
        job = _job(tmp_path, "1001-1005", loras=loras, output={"pattern": f"{name}/x.####.exr"})
        render(job, reporter=Collect())
        out[name] = np.stack([read_frame(job.output_sequence.path(f)).pixels for f in range(1001, 1006)])
    return out


def test_a_wan_lora_changes_the_frames_and_at_weight_0_changes_nothing(tmp_path):
    _plate(tmp_path, 5)
    lora = _lora(tmp_path, "style.safetensors")
    out = _renders(tmp_path, (("none", None), ("zero", [{"path": lora, "weight": 0.0}]),
                              ("one", [{"path": lora, "weight": 1.0}])))
    assert np.array_equal(out["zero"], out["none"])  # bit-equal: a weight-0 LoRA is not even loaded
    assert np.abs(out["one"][..., :3] - out["none"][..., :3]).mean() > 1e-3


@pytest.mark.slow
def test_a_wan_lora_in_kohya_names_gives_the_frames_of_the_same_lora_in_wans_names(tmp_path):
    _plate(tmp_path, 5)
    out = _renders(tmp_path, (("wan", [{"path": _lora(tmp_path, "style.safetensors"), "weight": 0.7}]),
                              ("kohya", [{"path": _lora(tmp_path, "style_kohya.safetensors", kohya=True),
                                          "weight": 0.7}])))
    np.testing.assert_allclose(out["kohya"], out["wan"], atol=1e-5)


def _cli(capsys, path, *extra):
    from recast.core.cli.main import main

    code = main(["render", "--job", str(path), *extra])
    return code, capsys.readouterr().err


def test_a_lora_wan_cannot_take_is_one_line_and_nothing_is_written(tmp_path, tiny_preset, capsys):
    from safetensors.torch import load_file, save_file

    _plate(tmp_path, 5)
    sd = os.path.join(os.path.dirname(tiny_preset.path), "lcm_lora", "lcm_lora_tiny.safetensors")  # an SD 1.5 LoRA
    wide = _lora(tmp_path, "wide.safetensors", width=48)  # made for a wider Wan (as a 14B LoRA on the 1.3B)
    nan = _lora(tmp_path, "nan.safetensors")
    state = load_file(nan)
    state["diffusion_model.blocks.1.ffn.0.lora_up.weight"][0, 0] = float("nan")
    save_file(state, nan)
    cases = ((sd, "was made for SD 1.x, not Wan"), (wide, "was made for a Wan transformer 48 wide; the preset's is 24"),
             (nan, "holds NaN or infinite values"))
    for path, expected in cases:
        (tmp_path / "job.json").write_text(json.dumps(job_dict(**{**WAN, "input": {"frames": "1001-1005"}},
                                                               loras=[{"path": path, "weight": 0.8}])))
        code, err = _cli(capsys, tmp_path / "job.json")
        assert code == 1 and err.count("\n") == 1 and expected in err, err
        assert listing(tmp_path / "render") == []
    # the other way round: a Wan LoRA on an SD 1.5 preset
    (tmp_path / "job.json").write_text(json.dumps(job_dict(model="tiny", input={"frames": "1001-1005"},
                                                           loras=[{"path": wide}])))
    code, err = _cli(capsys, tmp_path / "job.json")
    assert code == 1 and err.count("\n") == 1 and "was made for Wan" in err, err
    assert listing(tmp_path / "render") == []
    # training a LoRA (customize: SD 1.5) for a Wan preset is refused before anything is trained
    (tmp_path / "job.json").write_text(json.dumps(job_dict(**WAN, customize={"images": "plate"})))
    code, err = _cli(capsys, tmp_path / "job.json", "--dry-run")
    assert code == 1 and err.count("\n") == 1 and "'customize' is not supported" in err, err


# --- the memory preflight ---------------------------------------------------------------------------------------

def test_the_memory_preflight_counts_both_wan22_experts_or_one_when_offloaded_and_one_pass_without_guidance(tmp_path):
    from recast.core.backends import backend_for
    from recast.core.models.loader import loader_for

    _plate(tmp_path, 9)

    def estimate(model, offload=False, **kw):
        from recast.core.backends.memory import MemoryPlan

        job = _job(tmp_path, "1001-1009", model=model, **kw)
        loader = loader_for(job)
        backend = backend_for(job.with_preset_defaults(loader.preset), loader)
        if offload:  # what memory 'low' means on a GPU (on the CPU nothing is offloaded)
            backend.plan = backend.parts.plan = MemoryPlan("low", 1, True)
        return backend.estimate_memory((64, 32), 9, 9)

    wan, wan22 = estimate("tiny-wan"), estimate("tiny-wan22")
    assert wan22["models"] == 2 * wan["models"]  # both experts resident
    assert estimate("tiny-wan22", offload=True)["models"] == estimate("tiny-wan", offload=True)["models"] \
        < wan["models"]  # offloaded: one expert's blocks visit the device at a time
    fast = estimate("tiny-wan-fast", steps=None, guidance_scale=None)  # guidance 1: one pass a step
    assert fast["models"] == wan["models"] and 2 * fast["one window"] == wan["one window"]


def test_a_lora_on_wan22_is_fused_into_both_experts(tmp_path, tiny_preset):
    from safetensors.torch import load_file

    from recast.core.backends import backend_for
    from recast.core.models.loader import loader_for

    _plate(tmp_path, 5)
    job = _job(tmp_path, "1001-1005", model="tiny-wan22", loras=[{"path": _lora(tmp_path, "look.safetensors")}])
    backend = backend_for(job, loader_for(job))
    folder = os.path.join(os.path.dirname(tiny_preset.path), "wan22")
    for name in ("transformer", "transformer_2"):
        (f,) = [n for n in os.listdir(os.path.join(folder, name)) if n.endswith(".safetensors")]
        stored = load_file(os.path.join(folder, name, f))
        model = backend.parts.expert(name)
        fused = model.state_dict()
        assert not [k for k in fused if "lora" in k]  # fused into the weights: no LoRA layers left to run
        assert not bool((fused["blocks.0.attn1.to_q.weight"] == stored["blocks.0.attn1.to_q.weight"]).all())
        assert bool((fused["vace_blocks.0.attn1.to_q.weight"] == stored["vace_blocks.0.attn1.to_q.weight"]).all())
