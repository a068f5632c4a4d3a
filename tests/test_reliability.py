"""Never lose a plate, never crash: what a hostile-input sweep found, each as a user meets it."""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest

from recast.core.io.exrio import read_frame, read_header
from tests.conftest import RECAST, events, job_dict, listing, run_cli, write_exr

BIN = os.path.dirname(sys.executable)


def _digest(folder) -> dict:
    """Every file under ``folder`` and its content hash: what must not change."""
    out = {}
    for root, dirs, files in os.walk(folder):
        for name in files:
            path = os.path.join(root, name)
            out[os.path.relpath(path, folder)] = hashlib.sha256(open(path, "rb").read()).hexdigest()
    return out


def _job(tmp_path, **overrides) -> str:
    path = tmp_path / "job.json"
    path.write_text(json.dumps(job_dict(**overrides)))
    return str(path)


# --- no output ever names an input, in any spelling -----------------------------------------

@pytest.mark.parametrize("spelling", ["plate/sh010.%04d.exr", "plate/sh010.$F4.exr", "plate/sh010.#.exr",
                                      "plate/sh010.%d.exr", "plate/sh010.@@@@.exr", "plate/../plate/sh010.####.exr",
                                      "./plate//sh010.####.exr"])
def test_an_output_spelling_the_plate_is_refused_and_the_plate_is_untouched(tmp_path, plate, spelling):
    before = _digest(tmp_path / "plate")
    r = run_cli("render", "--job", _job(tmp_path, output={"pattern": spelling}))
    assert r.returncode == 1
    assert r.stderr.strip().startswith("recast: error: ") and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "same file" in r.stderr  # the job's own check catches the plainest spellings before the files are
    assert _digest(tmp_path / "plate") == before  # nothing written, nothing created (no recast_cache) there


def test_an_output_folder_that_is_a_symlink_to_the_plate_folder_is_refused(tmp_path, plate):
    os.symlink(tmp_path / "plate", tmp_path / "looks_new")
    before = _digest(tmp_path / "plate")
    r = run_cli("render", "--job", _job(tmp_path, output={"pattern": "looks_new/sh010.####.exr"}))
    assert r.returncode == 1 and "is the same file as plate frame 1001" in r.stderr
    assert _digest(tmp_path / "plate") == before


def test_an_output_frame_hard_linked_to_a_plate_frame_is_refused(tmp_path, plate):
    os.makedirs(tmp_path / "render")
    os.link(tmp_path / "plate" / "sh010.1003.exr", tmp_path / "render" / "out.1003.exr")
    before = _digest(tmp_path / "plate")
    r = run_cli("render", "--job", _job(tmp_path, output={"pattern": "render/out.####.exr"}))
    assert r.returncode == 1 and "output frame 1003" in r.stderr and "plate frame 1003" in r.stderr
    assert _digest(tmp_path / "plate") == before and listing(tmp_path / "render") == ["out.1003.exr"]


def test_a_matte_named_as_the_output_in_another_spelling_is_refused(tmp_path, plate):
    os.makedirs(tmp_path / "matte")
    for f in range(1001, 1007):
        write_exr(tmp_path / "matte" / f"m.{f}.exr", np.ones((40, 64, 1), np.float32), ["A"])
    before = _digest(tmp_path / "matte")
    r = run_cli("render", "--job", _job(tmp_path, input={"mask_pattern": "matte/m.####.exr"},
                                        output={"pattern": "matte/m.%04d.exr"}))
    assert r.returncode == 1 and "is the same file as matte frame" in r.stderr
    assert _digest(tmp_path / "matte") == before


# --- two renders of one job at once -----------------------------------------------------------

def test_two_renders_of_one_job_at_once_both_finish_with_the_frames_of_one_render(tmp_path, plate):
    reference = _job(tmp_path, output={"pattern": "reference/x.####.exr"})
    assert run_cli("render", "--job", reference).returncode == 0
    job = _job(tmp_path)
    os.replace(job, tmp_path / "twice.json")
    for trial in range(3):
        shutil.rmtree(tmp_path / "render", ignore_errors=True)
        procs = [subprocess.Popen(RECAST + ["render", "--job", str(tmp_path / "twice.json")], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for _ in range(2)]
        outs = [p.communicate(timeout=300) for p in procs]
        for p, (out, err) in zip(procs, outs):
            assert p.returncode == 0, f"trial {trial}: {err}"
            assert events(out)[-1]["event"] == "done"
        assert listing(tmp_path / "render") == [f"sh010_recast.{f}.exr" for f in range(1001, 1007)]
        for f in range(1001, 1007):
            np.testing.assert_array_equal(read_frame(str(tmp_path / "render" / f"sh010_recast.{f}.exr")).pixels,
                                          read_frame(str(tmp_path / "reference" / f"x.{f}.exr")).pixels)
        leftovers = [n for _, _, files in os.walk(tmp_path / "render") for n in files if n.endswith(".recast-tmp")]
        assert leftovers == []


# --- per-channel types -------------------------------------------------------------------------

@pytest.mark.parametrize("formats", [("half",) * 4, ("float",) * 4, ("half", "half", "half", "float")])
def test_plates_keep_their_per_channel_types(tmp_path, formats):
    os.makedirs(tmp_path / "plate")
    rng = np.random.default_rng(1)
    for f in range(1001, 1004):
        write_exr(tmp_path / "plate" / f"sh010.{f}.exr", rng.random((40, 64, 4), np.float32), ["R", "G", "B", "A"],
                  formats, attrs=[("oiio:ColorSpace", "string", "ACEScg")])
    r = run_cli("render", "--job", _job(tmp_path, input={"frames": "1001-1003"}))
    assert r.returncode == 0, r.stderr
    out = read_header(str(tmp_path / "render" / "sh010_recast.1002.exr"))
    assert out.channels == ("R", "G", "B", "A") and out.formats == formats


# --- short shots on the farm ------------------------------------------------------------------

@pytest.mark.parametrize("frames", [1, 6])
def test_a_shot_shorter_than_a_chunk_runs_through_openjd_with_the_default_chunk_size(tmp_path, frames):
    from recast.core.shot.synthetic import write_synthetic_plate

    write_synthetic_plate(str(tmp_path / "plate" / "sh010.####.exr"), 1001, frames, width=64, height=40)
    job = _job(tmp_path, input={"frames": f"1001-{1000 + frames}"})
    r = run_cli("farm", "openjd", "--job", job, "--out", tmp_path / "bundle")
    assert r.returncode == 0, r.stderr
    argv = shlex.split(r.stdout.strip().splitlines()[-1])
    run = subprocess.run([os.path.join(BIN, argv[0]), *argv[1:]], capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-1000:]
    assert listing(tmp_path / "render") == [f"sh010_recast.{f}.exr" for f in range(1001, 1001 + frames)]


# --- colour, cache, prompt, memory --------------------------------------------------------------

def test_an_unknown_colour_space_tag_is_warned_in_render_and_info(tmp_path):
    os.makedirs(tmp_path / "plate")
    for f in range(1001, 1004):
        write_exr(tmp_path / "plate" / f"sh010.{f}.exr", np.full((40, 64, 3), 0.3, np.float32), ["R", "G", "B"],
                  attrs=[("colorInteropID", "string", "NotASpace")])  # OpenEXR 3's colour-space attribute
    r = run_cli("render", "--job", _job(tmp_path, input={"frames": "1001-1003", "colorspace": None}))
    assert r.returncode == 0, r.stderr
    warnings = [e["message"] for e in events(r.stdout) if e["event"] == "warning"]
    assert any("'NotASpace'" in w and "read as Linear Rec.709" in w for w in warnings), warnings
    info = run_cli("info", tmp_path / "plate" / "sh010.####.exr")
    assert "warning" in info.stdout and "'NotASpace'" in info.stdout


def test_recast_cache_pointing_at_a_file_is_one_line(tmp_path, plate):
    (tmp_path / "cachefile").write_text("not a folder")
    env = {**os.environ, "RECAST_CACHE": str(tmp_path / "cachefile")}
    r = subprocess.run(RECAST + ["render", "--job", _job(tmp_path)], capture_output=True, text=True, env=env,
                       timeout=120)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert r.stderr.strip().splitlines() == [r.stderr.strip()] and "RECAST_CACHE" in r.stderr
    assert "is a file, not a folder" in r.stderr


def test_a_50_mb_prompt_is_refused_at_once_and_a_long_one_is_cut_with_a_warning(tmp_path, plate):
    job = json.loads(open(_job(tmp_path)).read())
    job["prompt"] = "a claymation street " * 2_500_000  # 50 MB
    (tmp_path / "huge.json").write_text(json.dumps(job))
    began = time.monotonic()
    r = run_cli("render", "--job", tmp_path / "huge.json", "--dry-run", timeout=60)
    assert r.returncode == 1 and "'prompt'" in r.stderr and "at most 10000 characters" in r.stderr
    assert time.monotonic() - began < 30
    r = run_cli("render", "--job", _job(tmp_path, prompt="a claymation street at dusk " * 40))
    assert r.returncode == 0, r.stderr
    warnings = [e["message"] for e in events(r.stdout) if e["event"] == "warning"]
    assert any("tokens long; the text encoder reads the first 77" in w for w in warnings), warnings


def test_the_memory_preflight_refuses_a_render_that_cannot_fit_within_seconds(tmp_path, plate):
    began = time.monotonic()
    r = run_cli("render", "--job", _job(tmp_path, resolution=4096, window={"length": 6, "overlap": 1}))
    assert r.returncode == 1, r.stderr
    assert "this render needs about" in r.stderr and "GB free" in r.stderr and "'resolution'" in r.stderr
    assert time.monotonic() - began < 60
    assert listing(tmp_path / "render") == []
    # the same shot at a size that fits renders, warned that the model upscales the plate
    r = run_cli("render", "--job", _job(tmp_path, resolution=512))
    assert r.returncode == 0, r.stderr
    warnings = [e["message"] for e in events(r.stdout) if e["event"] == "warning"]
    assert any("the model runs at 512x320, 8.0x the plate's 64x40" in w for w in warnings), warnings


def test_a_full_disk_says_no_space_left(tmp_path, plate):
    full = tmp_path / "full"
    full.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(full)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a small tmpfs here (needs root); the message is built by io.atomic.write_failure")
    try:
        r = run_cli("render", "--job", _job(tmp_path, output={"pattern": str(full / "out.####.exr")}))
        assert r.returncode == 1 and "no space left on device" in r.stderr, r.stderr
        assert not [n for n in os.listdir(full) if n.startswith("out.") and n.endswith(".exr")] or \
            all(read_frame(str(full / n)) for n in os.listdir(full) if n.endswith(".exr"))
    finally:
        subprocess.run(["umount", str(full)], capture_output=True)


# --- messages that say why ----------------------------------------------------------------------

@pytest.mark.parametrize("name, why", [("x" * 300, "at most 128 characters"), ("sh010\ncomp", "name")])
def test_farm_name_errors_say_why(tmp_path, plate, name, why):
    r = run_cli("farm", "openjd", "--job", _job(tmp_path, output={"pattern": f"render/{name}.####.exr"}),
                "--out", tmp_path / "bundle")
    assert r.returncode == 1 and "the OpenJD template is not valid: name" in r.stderr and why in r.stderr, r.stderr
    assert "validation errors for JobTemplate" not in r.stderr and not (tmp_path / "bundle").exists()


def test_models_check_gives_the_right_advice_for_pickle_only_local_weights(tmp_path, tiny_preset):
    folder = tmp_path / "controlnet"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    (folder / "diffusion_pytorch_model.bin").write_bytes(b"\x80\x04pickle")
    preset = open(tiny_preset.path).read().replace('source = "./controlnet"', f'source = "{folder}"')
    root = os.path.dirname(tiny_preset.path)
    preset = preset.replace('source = "./', f'source = "{root}/')
    (tmp_path / "preset.toml").write_text(preset)
    r = run_cli("models", "check", "--model", tmp_path / "preset.toml")
    assert r.returncode == 1
    last = r.stderr.strip().splitlines()[-1]
    assert "controlnet" in last and "recast models pull" not in last and "safetensors" in last


def test_info_names_a_truncated_frame_and_exits_1(tmp_path, plate):
    path = tmp_path / "plate" / "sh010.1004.exr"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 2 // 3])
    r = run_cli("info", tmp_path / "plate" / "sh010.####.exr")
    assert r.returncode == 1 and "sh010.1004.exr: is truncated or damaged" in r.stdout, r.stdout
