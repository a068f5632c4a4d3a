"""The `recast` command as hosts and users see it: exit codes, one-line errors, JSON lines, files."""

import json
import os
import shutil
import signal
import subprocess
import sys

import numpy as np
import pytest

from recast.core.shot.synthetic import write_synthetic_plate
from recast.core.io.exrio import read_frame
from tests.conftest import RECAST, events, job_dict, listing, run_cli, write_exr


TINY = ["--model", "tiny", "--device", "cpu", "--resolution", "64", "--steps", "2"]


def _render_dir(tmp_path):
    return listing(tmp_path / "render")


def test_render_speaks_json_lines(tmp_path, job_file):
    r = run_cli("render", "--job", job_file())
    assert r.returncode == 0, r.stderr
    ev = events(r.stdout)
    assert ev[0]["event"] == "start" and ev[0]["frames"] == "1001-1006" and ev[0]["total"] == 6
    assert ev[0]["renderer"].startswith("recast temporal diffusion")
    assert ev[-1]["event"] == "done" and ev[-1]["frames"] == 6
    frames = [e for e in ev if e["event"] == "frame"]
    assert [e["frame"] for e in frames] == list(range(1001, 1007))
    assert all(os.path.isfile(e["path"]) for e in frames)
    assert any(e["event"] == "progress" and e["stage"] == "write" and e["done"] == 6 for e in ev)
    assert {e["event"] for e in ev} <= {"start", "progress", "frame", "warning", "done", "error"}
    assert _render_dir(tmp_path) == [f"sh010_recast.{f}.exr" for f in range(1001, 1007)]


def test_render_builds_a_job_from_flags_and_saves_it(tmp_path, plate):
    saved = tmp_path / "built.json"
    r = run_cli("render", "--input", "plate/sh010.####.exr", "--output", "out/x.%04d.exr", "--frames", "1002-1003",
                "--prompt", "snow", "--colorspace", "ACEScg", "--seed", "7", "--save-job", saved, *TINY, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert listing(tmp_path / "out") == ["x.1002.exr", "x.1003.exr"]
    job = json.loads(saved.read_text())
    assert job["seed"] == 7 and job["prompt"] == "snow" and os.path.isabs(job["input"]["pattern"])


def test_a_sub_range_renders_its_handles_for_context_and_writes_only_itself(tmp_path, job_file):
    r = run_cli("render", "--job", job_file(handles=1), "--frames", "1003-1004")
    assert r.returncode == 0, r.stderr
    start = events(r.stdout)[0]
    assert (start["frames"], start["total"], start["rendered"]) == ("1003-1004", 2, "1002-1005")
    assert listing(tmp_path / "render") == ["sh010_recast.1003.exr", "sh010_recast.1004.exr"]
    edge = run_cli("render", "--job", job_file(handles=1), "--frames", "1001-1001")
    assert edge.returncode == 0 and events(edge.stdout)[0]["rendered"] == "1001-1002"  # clipped to the shot
    outside = run_cli("render", "--job", job_file(), "--frames", "1005-1009")
    assert outside.returncode == 1 and "outside the job's range 1001-1006" in outside.stderr


def test_dry_run_checks_and_saves_the_job_and_renders_nothing(tmp_path, job_file):
    saved = tmp_path / "v2.json"
    r = run_cli("render", "--job", job_file(), "--seed", "9", "--input-frames", "1002-1004", "--save-job", saved,
                "--dry-run")
    assert r.returncode == 0 and r.stdout.startswith("recast: dry run: nothing rendered"), r.stderr
    assert "1002-1004 (3 frames" in r.stdout  # what it would render
    job = json.loads(saved.read_text())
    assert job["seed"] == 9 and job["input"]["frames"] == "1002-1004" and not os.path.exists(tmp_path / "render")
    r = run_cli("render", "--job", job_file(), "--colorspace", "No Such Space", "--save-job", saved, "--dry-run")
    assert r.returncode == 1 and "colorspace" in r.stderr and json.loads(saved.read_text())["seed"] == 9


def test_flags_override_the_job_file(tmp_path, job_file):
    r = run_cli("render", "--job", job_file(), "--output", "other/o.####.exr", "--frames", "1001-1001")
    assert r.returncode == 0, r.stderr
    assert listing(tmp_path / "other") == ["o.1001.exr"]
    header = read_frame(str(tmp_path / "other" / "o.1001.exr")).header
    assert json.loads(header.attribute("recast/job"))["output"]["pattern"].endswith("other/o.####.exr")


@pytest.mark.parametrize("args", [["render", "--steps", "many"], ["bogus"], [], ["render", "--frobnicate"]])
def test_bad_arguments_exit_2(args):
    r = run_cli(*args)
    assert r.returncode == 2
    assert "usage:" in r.stderr


def _assert_one_line_error(r, *words):
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    assert len(lines) == 1 and lines[0].startswith("recast: error: "), r.stderr
    for w in words:
        assert w in lines[0], lines[0]
    ev = events(r.stdout)
    assert ev[-1]["event"] == "error" and "\n" not in ev[-1]["message"]
    return lines[0]


def test_missing_job_file(tmp_path):
    _assert_one_line_error(run_cli("render", "--job", tmp_path / "nope.json"), "does not exist")


def test_no_job_and_no_flags():
    _assert_one_line_error(run_cli("render"), "give --job FILE")


def test_bad_field_in_job(tmp_path, job_file):
    _assert_one_line_error(run_cli("render", "--job", job_file(structure_level=9)), "'structure_level'", "0..7")


def test_missing_frames_are_listed_and_nothing_is_written(tmp_path, job_file, plate):
    os.remove(plate.replace("####", "1003"))
    os.remove(plate.replace("####", "1004"))
    line = _assert_one_line_error(run_cli("render", "--job", job_file()), "2 of 6 frames are missing: 1003-1004")
    assert "sh010.####.exr" in line
    assert _render_dir(tmp_path) == []


@pytest.mark.parametrize("damage, words", [
    ("zero", "empty (0-byte) file"),
    ("garbage", "cannot be read as an image"),
    ("folder", "is a folder"),
])
def test_damaged_frames_stop_before_anything_is_written(tmp_path, job_file, plate, damage, words):
    bad = plate.replace("####", "1004")
    os.remove(bad)
    if damage == "zero":
        open(bad, "wb").close()
    elif damage == "garbage":
        with open(bad, "wb") as fh:
            fh.write(os.urandom(4096))
    else:
        os.mkdir(bad)
    _assert_one_line_error(run_cli("render", "--job", job_file()), words, "1004")
    assert _render_dir(tmp_path) == []


def test_truncated_frame_stops_before_anything_is_written(tmp_path, job_file, plate):
    bad = plate.replace("####", "1005")
    data = open(bad, "rb").read()
    with open(bad, "wb") as fh:
        fh.write(data[: len(data) * 2 // 3])
    _assert_one_line_error(run_cli("render", "--job", job_file()), "1005")
    assert _render_dir(tmp_path) == []


def test_mixed_resolutions(tmp_path, job_file, plate):
    odd = plate.replace("####", "1003")
    os.remove(odd)
    write_synthetic_plate(plate, 1003, 1, width=80, height=40)
    _assert_one_line_error(run_cli("render", "--job", job_file()), "1003", "differs from frame 1001", "one format")
    assert _render_dir(tmp_path) == []


def test_output_folder_blocked_by_a_file(tmp_path, job_file):
    (tmp_path / "render").write_text("not a folder")
    _assert_one_line_error(run_cli("render", "--job", job_file()), "output folder", "cannot be created")


def test_output_folder_not_writable(tmp_path, job_file):
    if os.geteuid() == 0:
        target = "/sys/recast-test/out.####.exr"  # even root cannot create folders here
    else:
        (tmp_path / "ro").mkdir(mode=0o500)
        target = str(tmp_path / "ro" / "out.####.exr")
    _assert_one_line_error(run_cli("render", "--job", job_file(), "--output", target), "output folder")


def test_nan_and_inf_pixels_are_reported_not_fatal(tmp_path):
    (tmp_path / "plate").mkdir()
    px = np.full((8, 8, 4), 0.25, np.float32)
    px[1, 1, 0], px[2, 2, 1] = np.nan, np.inf
    write_exr(tmp_path / "plate" / "n.0001.exr", px, ["R", "G", "B", "A"], ["half"] * 4)
    r = run_cli("render", "--input", "plate/n.####.exr", "--output", "out/n.####.exr", "--prompt", "x", *TINY,
                cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    warn = [e["message"] for e in events(r.stdout) if e["event"] == "warning"]
    assert any("frame 1: 2 pixels hold NaN or Inf" in w for w in warn)
    assert np.isfinite(read_frame(str(tmp_path / "out" / "n.0001.exr")).rgb()).all()


@pytest.mark.parametrize("sig, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_signal_stops_after_the_frame_being_written(tmp_path, sig, code):
    """A big plate; the signal arrives right after the first frame event."""
    pattern = str(tmp_path / "plate" / "big.####.exr")
    write_synthetic_plate(pattern, 1, 10, width=1024, height=768)
    job = tmp_path / "job.json"
    job.write_text(json.dumps(job_dict(input={"pattern": "plate/big.####.exr", "frames": "1-10"})))
    proc = subprocess.Popen(RECAST + ["render", "--job", str(job)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    seen = []
    for line in proc.stdout:
        seen.append(json.loads(line))
        if seen[-1]["event"] == "frame":
            proc.send_signal(sig)
            break
    rest, err = proc.communicate(timeout=120)
    seen += [json.loads(l) for l in rest.splitlines()]
    assert proc.returncode == code, err
    assert seen[-1]["event"] == "error" and seen[-1]["cancelled"] is True
    written = [e["frame"] for e in seen if e["event"] == "frame"]
    assert 1 <= len(written) < 10
    names = listing(tmp_path / "render")
    assert names == [f"sh010_recast.{f:04d}.exr" for f in written]  # whole frames only, no temporaries
    for n in names:
        assert read_frame(str(tmp_path / "render" / n)).pixels.shape == (768, 1024, 5)


def test_info_describes_a_sequence(tmp_path, plate):
    os.remove(plate.replace("####", "1003"))
    r = run_cli("info", plate)
    assert r.returncode == 1  # a missing frame is a finding a script should see
    assert "1001-1002, 1004-1006 (5 of range 1001-1006)" in r.stdout
    assert "missing     1003" in r.stdout and "64x40" in r.stdout and "depth.Z:float" in r.stdout
    r = run_cli("info", plate, "--json", "--frames", "1004-1006")
    assert r.returncode == 0
    info = json.loads(r.stdout)
    assert info["missing"] == [] and info["resolution"] == [64, 40]
    assert {"name": "depth.Z", "type": "float"} in info["channels"]


def test_info_with_nothing_there(tmp_path):
    r = run_cli("info", tmp_path / "none.####.exr")
    assert r.returncode == 1 and "recast: error: no frames match" in r.stderr and "Traceback" not in r.stderr


def test_demo_leaves_exrs_a_contact_sheet_and_the_report(tmp_path):
    r = run_cli("demo", "--out", tmp_path / "demo", "--frames", "4")
    assert r.returncode == 0, r.stderr
    assert "contact sheet" in r.stdout and "tiny" in r.stdout
    assert len(listing(tmp_path / "demo" / "render")) == 4
    import OpenImageIO as oiio

    sheet = oiio.ImageBuf(str(tmp_path / "demo" / "contact_sheet.png"))
    assert sheet.spec().width > 200 and sheet.spec().nchannels == 3
    px = sheet.get_pixels(oiio.FLOAT)
    assert px.std() > 0.05  # pictures, not a blank sheet
    report = tmp_path / "demo" / "report" / "index.html"
    assert f"report         {report}" in r.stdout and report.is_file()
    assert sorted(os.listdir(report.parent)) == ["contact_sheet.png", "index.html", "metrics.json", "metrics.png"]
    metrics = json.loads((report.parent / "metrics.json").read_text())
    assert [row["frame"] for row in metrics["per_frame"]] == [1001, 1002, 1003, 1004]
    assert all(isinstance(metrics[k], float) for k in ("frame_consistency", "prompt_consistency", "warp_error",
                                                       "structure_fidelity"))


def test_the_demos_summary_starts_its_own_line_and_a_second_demo_replaces_its_report(tmp_path, monkeypatch):
    """A terminal shows stderr's status line and stdout's summary on one screen: the summary must not be glued
    to the last 'measure' status. Run as at a terminal: a Display, both streams into one screen."""
    import argparse
    import io

    from recast.core.cli import demo
    from recast.core.progress import Display
    from recast.core.progress.cancel import CancelFlag

    screen = io.StringIO()
    monkeypatch.setattr(sys, "stdout", screen)
    args = argparse.Namespace(out=str(tmp_path / "demo"), frames=2, json=False)
    for _ in range(2):  # the second run into the same folder replaces the report, leaving nothing beside it
        assert demo.run(args, Display("demo", stream=screen), CancelFlag()) == 0
    # what a terminal shows of each line: the text after its last carriage return
    shown = [line.rsplit("\r", 1)[-1] for line in screen.getvalue().split("\n")]
    assert sum(line.startswith("recast demo: 2 frames in ") for line in shown) == 2, shown
    assert sorted(os.listdir(tmp_path / "demo")) == ["contact_sheet.png", "job.json", "plate", "render", "report"]
    assert sorted(os.listdir(tmp_path / "demo" / "report")) == ["contact_sheet.png", "index.html", "metrics.json",
                                                                 "metrics.png"]


def test_console_script_is_installed():
    exe = shutil.which("recast", path=os.path.dirname(sys.executable)) or shutil.which("recast")
    assert exe, "the 'recast' console script is not on PATH"
    r = subprocess.run([exe, "--version"], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.startswith("recast ")


def test_importing_core_does_not_import_torch():
    code = ("import sys, recast.core, recast.core.job, recast.core.pipeline.render, recast.core.cli.main, recast.plugin, "
            "recast.plugin.common.worker;"
            "print(sorted(m for m in ('torch', 'diffusers', 'transformers', 'OpenImageIO') if m in sys.modules))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"


def test_render_with_a_model_part_missing_stops_before_anything_runs(tmp_path, job_file, tiny_preset):
    root = os.path.dirname(tiny_preset.path)
    preset = tmp_path / "no_controlnet.toml"
    preset.write_text("\n".join(f'[parts.{role}]\nsource = "{os.path.join(root, role)}"' for role in
                                ("base", "motion_adapter", "depth")) +
                      f'\n[parts.controlnet]\nsource = "{tmp_path / "no_such_folder"}"\n')
    r = run_cli("render", "--job", job_file(model=str(preset)))
    _assert_one_line_error(r, "controlnet", "does not exist")
    assert [e["event"] for e in events(r.stdout)] == ["error"]  # no start: nothing ran
    assert _render_dir(tmp_path) == [] and not os.path.exists(tmp_path / "render" / "recast_cache")
