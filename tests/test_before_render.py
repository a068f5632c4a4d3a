"""Checks that run before anything is written (issue 27): a dry run checks what a render checks, huge ranges fail
fast, a LoRA of NaNs is refused, an error leaves no output folder, Wan refuses 'customize', unset optional fields
never crash a null render, deeply nested job JSON is one line. Every bad input: one line, exit 1, nothing written."""

from __future__ import annotations

import json
import os
import struct
import time

import pytest

from tests.conftest import events, job_dict, run_cli

pytestmark = pytest.mark.usefixtures("recast_cache")

HUGE = "1-1000000000"
WAN = {"model": "tiny-wan", "resolution": 64, "steps": 2, "window": {"length": 9, "overlap": 4}, "handles": 4}


def _job(tmp_path, **overrides) -> str:
    path = tmp_path / "job.json"
    path.write_text(json.dumps(job_dict(**overrides)))
    return str(path)


def _one_line_error(r, *words):
    assert r.returncode == 1, (r.returncode, r.stdout[-2000:], r.stderr[-2000:])
    lines = [x for x in r.stderr.splitlines() if not x.startswith("recast: warning: ")]  # a warning may come first
    assert len(lines) == 1 and lines[0].startswith("recast: error: ") and r.stderr.endswith("\n"), r.stderr
    assert "Traceback" not in r.stderr
    for w in words:
        assert w in r.stderr, r.stderr


# --- --dry-run checks everything a render checks before its first frame, and says what it would render ---------

def test_a_dry_run_says_what_would_be_rendered_and_writes_nothing(tmp_path, plate, tiny_preset):
    r = run_cli("render", "--job", _job(tmp_path, output={"pattern": "deep/er/render/sh.####.exr"}), "--dry-run")
    assert r.returncode == 0 and r.stderr == "", r.stderr
    text = r.stdout
    assert "1001-1006 (6 frames" in text and "64x40" in text and "tiny (animatediff)" in text, text
    assert "windows" in text and str(tmp_path / "deep" / "er" / "render") in text, text
    assert not os.path.exists(tmp_path / "deep")  # the folder made to prove it writable is gone again
    r = run_cli("render", "--job", _job(tmp_path), "--dry-run", "--json")
    assert r.returncode == 0, r.stderr
    (summary,) = [e for e in events(r.stdout) if e["event"] == "dry_run"]
    assert summary["frames"] == "1001-1006" and summary["total"] == 6 and summary["backend"] == "animatediff"
    assert summary["model_size"] == [64, 40] and summary["windows"] >= 1 and summary["output_folder"].endswith("render")
    assert not os.path.exists(tmp_path / "render")


def test_a_dry_run_refuses_what_the_render_would_refuse(tmp_path, plate, tiny_preset):
    # the memory preflight: a resolution typo is refused before any model loads
    _one_line_error(run_cli("render", "--job", _job(tmp_path, resolution=4096,
                                                    window={"length": 6, "overlap": 1}), "--dry-run"),
                    "this render needs about", "GB free")
    # a preset part that is not there
    preset = tmp_path / "broken.toml"
    preset.write_text(open(tiny_preset.path).read().replace(os.path.dirname(tiny_preset.path),
                                                            str(tmp_path / "nowhere")))
    r = run_cli("render", "--job", _job(tmp_path, input={"frames": "1001-1003"}, model=str(preset)), "--dry-run")
    _one_line_error(r, "model part")
    os.remove(os.path.join(os.path.dirname(plate), "sh010.1004.exr"))  # a frame missing on disk
    _one_line_error(run_cli("render", "--job", _job(tmp_path), "--dry-run"), "1 of 6 frames are missing: 1004")
    _one_line_error(run_cli("render", "--job", _job(tmp_path, input={"frames": "1001-1003",
                                                                     "mask_pattern": "nomatte/m.####.exr"}),
                            "--dry-run"), "matte")
    _one_line_error(run_cli("render", "--job", _job(tmp_path, input={"frames": "1001-1003"}), "--frames", "1002-1009",
                            "--dry-run"), "outside the job's range")
    assert not os.path.exists(tmp_path / "render")


# --- huge ranges fail fast ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("command", ["render", "depth", "info", "matte", "render-matte-section"])
def test_a_range_of_a_billion_frames_is_one_line_in_seconds(tmp_path, plate, command):
    began = time.monotonic()
    if command == "info":
        r = run_cli("info", plate, "--frames", HUGE)
    elif command == "matte":
        r = run_cli("matte", "--input", plate, "--frames", HUGE, "--points", "1001:10,10",
                    "--output", tmp_path / "matte" / "m.####.exr")
    elif command == "render-matte-section":  # the matte a job makes from clicks is looked for over the range too
        r = run_cli("render", "--job", _job(tmp_path, input={"frames": HUGE},
                                            matte={"objects": [{"name": "actor", "points": ["1001:10,10"], "boxes": []}]}))
    else:
        r = run_cli(command, "--job", _job(tmp_path, input={"frames": HUGE}))
    _one_line_error(r, "999999994" if command != "render-matte-section" else "not made yet")
    assert time.monotonic() - began < 10
    assert not os.path.exists(tmp_path / "render") and not os.path.exists(tmp_path / "matte")


def test_two_frames_a_billion_apart_on_disk_are_one_line_in_seconds(tmp_path, plate):
    import shutil

    far = os.path.join(os.path.dirname(plate), "sh010.1000000000.exr")
    shutil.copy(os.path.join(os.path.dirname(plate), "sh010.1001.exr"), far)
    began = time.monotonic()
    _one_line_error(run_cli("render", "--input", plate, "--output", tmp_path / "render" / "o.####.exr",
                            "--prompt", "x", "--model", "tiny"), "are missing between 1001 and 1000000000")
    _one_line_error(run_cli("info", plate), "999998993 of the 999999000 frames")
    assert time.monotonic() - began < 10


def _fake_lora(path, value=0.0):
    """The smallest file the LoRA header check takes: one float32 'lora' tensor."""
    header = json.dumps({"unet.x.lora.down.weight": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}).encode()
    with open(path, "wb") as fh:
        fh.write(struct.pack("<Q", len(header)) + header + struct.pack("<f", value))


def test_the_lora_duplicate_check_is_linear(tmp_path, plate):
    folder = tmp_path / "loras"
    folder.mkdir()
    n = 3000
    for i in range(n):
        _fake_lora(folder / f"l{i}.safetensors")
    loras = [{"path": f"loras/l{i}.safetensors", "weight": 0.5} for i in range(n)] + [{"path": "loras/l0.safetensors"}]
    began = time.monotonic()
    r = run_cli("render", "--job", _job(tmp_path, loras=loras), "--dry-run")
    _one_line_error(r, f"'loras[{n}]'", "is the same LoRA as loras[0]")
    assert time.monotonic() - began < 5  # 4.5 million file comparisons before


# --- a LoRA of NaNs or absurd values is refused; LoRAs never reach torch.load ---------------------------------------

@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf"), 1e30])
def test_a_lora_that_is_not_finite_or_absurdly_large_is_refused_in_one_line(tmp_path, plate, tiny_preset, bad):
    import safetensors.torch

    good = os.path.join(os.path.dirname(tiny_preset.path), "lcm_lora", "lcm_lora_tiny.safetensors")
    tensors = safetensors.torch.load_file(good)
    name = sorted(k for k in tensors if "lora" in k and tensors[k].is_floating_point())[0]
    tensors[name] = tensors[name].clone()
    tensors[name].view(-1)[0] = bad
    safetensors.torch.save_file(tensors, str(tmp_path / "bad.safetensors"))
    r = run_cli("render", "--job", _job(tmp_path, loras=[{"path": "bad.safetensors", "weight": 0.8}],
                                        input={"frames": "1001-1002"}, window={"length": 2, "overlap": 0}))
    _one_line_error(r, "bad.safetensors", "is damaged")
    assert not os.path.exists(tmp_path / "render")


def test_loras_load_with_use_safetensors_so_nothing_reaches_torch_load(tmp_path, monkeypatch, tiny_preset):
    from diffusers import StableDiffusionPipeline

    from recast.core.models import lora

    seen = {}
    real = StableDiffusionPipeline.lora_state_dict

    def spy(path, **kwargs):
        seen.update(kwargs)
        return real(path, **kwargs)

    monkeypatch.setattr(StableDiffusionPipeline, "lora_state_dict", spy)
    good = os.path.join(os.path.dirname(tiny_preset.path), "lcm_lora", "lcm_lora_tiny.safetensors")
    state, _ = lora._state(good)
    assert state and seen.get("use_safetensors") is True


# --- an error before the render leaves no output folder behind ------------------------------------------------------

def test_an_error_before_the_render_leaves_no_output_folder(tmp_path, plate, tiny_preset):
    out = {"pattern": "shots/sh010/render/o.####.exr"}
    _one_line_error(run_cli("render", "--job", _job(tmp_path, output=out, **WAN, temporal_guidance=1.5)),
                    "'temporal_guidance' is not supported by the 'wan-vace' backend")
    _one_line_error(run_cli("render", "--job", _job(tmp_path, output=out, resolution=4096,
                                                    window={"length": 6, "overlap": 1})), "this render needs about")
    assert not os.path.exists(tmp_path / "shots")
    (tmp_path / "kept").mkdir()  # a folder that was there before stays
    _one_line_error(run_cli("render", "--job", _job(tmp_path, output={"pattern": "kept/o.####.exr"}, **WAN,
                                                    temporal_guidance=1.5)), "not supported")
    assert os.path.isdir(tmp_path / "kept")


# --- a Wan job with a customize section is refused at check time ----------------------------------------------------

def test_a_wan_job_with_a_customize_section_is_refused_before_anything_trains(tmp_path, plate):
    (tmp_path / "images").mkdir()
    job = _job(tmp_path, **WAN, customize={"images": "images", "token": "sks person"})
    for args in (("render", "--job", job, "--dry-run"), ("render", "--job", job), ("customize", "--job", job)):
        r = run_cli(*args)
        _one_line_error(r, "wan-vace", "LoRA")
        assert "not trained yet" not in r.stderr
    assert not os.path.exists(tmp_path / "render")


# --- optional fields left unset never crash a path that reports them -------------------------------------------------

def test_a_null_render_of_a_job_leaving_guidance_or_steps_unset_renders(tmp_path, plate):
    from recast.core.io.exrio import read_header

    for extra in ({"guidance_scale": None}, {"steps": None}, {"guidance_scale": None, "steps": None}):
        r = run_cli("render", "--job", _job(tmp_path, strength=0.0, input={"frames": "1001-1002"}, **extra))
        assert r.returncode == 0 and "internal error" not in r.stderr, r.stderr
        header = read_header(str(tmp_path / "render" / "sh010_recast.1001.exr"))
        assert header.attribute("recast/guidance_scale") in (None, "7.5")
        r = run_cli("render", "--job", _job(tmp_path, strength=0.0, input={"frames": "1001-1002"}, **extra),
                    "--dry-run")
        assert r.returncode == 0, r.stderr


# --- deeply nested job JSON is one line ------------------------------------------------------------------------------

def test_deeply_nested_job_json_is_one_line(tmp_path):
    (tmp_path / "deep.json").write_text("[" * 200_000 + "]" * 200_000)
    (tmp_path / "deep2.json").write_text('{"prompt": ' + "{\"a\": " * 100_000 + "1" + "}" * 100_001)
    for name in ("deep.json", "deep2.json"):
        for command in ("render", "depth"):
            _one_line_error(run_cli(command, "--job", tmp_path / name), "nested too deeply")
