"""Where artists run it: the host side on the Pythons of Nuke 14 (3.9) and 15 (3.10); a terminal that reads
like one; the help text; a light base install."""

from __future__ import annotations

import glob
import json
import os
import pty
import select
import shutil
import subprocess
import sys

import pytest

from tests.conftest import RECAST, job_dict

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)


def _python(version: str) -> str | None:
    """An interpreter of ``version`` that runs: pyenv's installs first (its shims may refuse), then PATH."""
    roots = [os.environ.get("PYENV_ROOT", ""), os.path.expanduser("~/.pyenv"), "/root/.pyenv"]
    candidates = sorted({p for r in roots if r for p in glob.glob(f"{r}/versions/{version}.*/bin/python")})
    candidates += [shutil.which(f"python{version}") or ""]
    for found in candidates:
        if found and subprocess.run([found, "-c", "pass"], capture_output=True).returncode == 0:
            return found
    return None


@pytest.mark.parametrize("version, host", [("3.9", "Nuke 14"), ("3.10", "Nuke 15")])
def test_the_host_side_runs_a_render_under_an_older_host_python(version, host, plate, tmp_path):
    python = _python(version)
    if python is None:
        pytest.skip(f"no Python {version} on this machine (pyenv {version}.x), so {host}'s host side is not tested")
    args = {"plate": plate, "out": str(tmp_path / "out"),
            "knobs": {"prompt": "a claymation street", "model": "tiny", "device": "cpu", "steps": 1,
                      "resolution": 64, "window_length": 4, "window_overlap": 1, "handles": 1}}
    env = {**os.environ, "RECAST_WORKER": f"{sys.executable} -m recast.core"}
    run = subprocess.run([python, "-S", os.path.join(HERE, "host_flow.py"), json.dumps(args)], capture_output=True,
                         text=True, timeout=600, env=env)
    lines = [ln for ln in run.stdout.splitlines() if ln.startswith("RESULT ")]
    assert run.returncode == 0 and lines, run.stdout[-2000:] + run.stderr[-3000:]
    result = json.loads(lines[-1][7:])
    assert result["python"].startswith(version + ".") and result["modules"] == []  # no numpy, torch, OIIO
    assert result["state"] == "done" and result["error"] is None and result["frames"] == 6, result
    assert {"start", "progress", "frame", "done", "exit"} <= set(result["kinds"])
    assert sorted(os.listdir(tmp_path / "out" / "render"))[:6] == [f"r.{f}.exr" for f in range(1001, 1007)]


def _in_a_terminal(argv, cwd) -> tuple[int, str]:
    """Run ``argv`` with stdout and stderr on a pseudo-terminal, as a person would; returns (code, screen)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, cwd=cwd, close_fds=True)
    os.close(slave)
    out = b""
    while True:
        ready, _, _ = select.select([master], [], [], 300)
        if not ready:
            proc.kill()
            break
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the other side closed
            break
        if not data:
            break
        out += data
    os.close(master)
    return proc.wait(timeout=60), out.decode("utf-8", "replace")


def test_a_render_in_a_terminal_shows_one_progress_display_and_no_json(tmp_path, plate):
    (tmp_path / "job.json").write_text(json.dumps(job_dict()))
    code, screen = _in_a_terminal(RECAST + ["render", "--job", str(tmp_path / "job.json")], tmp_path)
    assert code == 0, screen
    assert '{"event"' not in screen and "denoise step 2/2" in screen and "ETA" in screen
    assert "recast render: 6 frame(s) written in " in screen and "render/sh010_recast.####.exr" in screen


def test_json_in_a_terminal_is_only_json(tmp_path, plate):
    (tmp_path / "job.json").write_text(json.dumps(job_dict()))
    code, screen = _in_a_terminal(RECAST + ["render", "--job", str(tmp_path / "job.json"), "--json"], tmp_path)
    assert code == 0, screen
    lines = [ln for ln in screen.replace("\r", "").splitlines() if ln.strip()]
    assert lines and all(json.loads(ln)["event"] for ln in lines)


def test_an_error_in_a_terminal_is_its_one_line(tmp_path):
    code, screen = _in_a_terminal(RECAST + ["render"], tmp_path)
    assert code == 1
    assert screen.replace("\r", "").strip() == "recast: error: give --job FILE, or build a job with --input and --output"


def test_render_help_documents_every_job_field():
    from recast.core.job import JOB_FIELDS

    out = subprocess.run(RECAST + ["render", "--help"], capture_output=True, text=True, env={
        **os.environ, "COLUMNS": "400"}).stdout
    for info in JOB_FIELDS:
        assert f"--{info.flag.replace('_', '-')}" in out and info.doc.split(";")[0][:40] in out, info.path
    assert "one of auto, fp32, fp16, bf16 (default 'auto')" in out and "the model preset's default (20; fast: 6); 1..200" in out


def test_plain_pytest_collects_the_suite():
    out = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "tests/test_frames.py"], cwd=REPO,
                         capture_output=True, text=True)
    exe = os.path.join(os.path.dirname(sys.executable), "pytest")
    plain = subprocess.run([exe, "--collect-only", "-q", "tests/test_hosts.py"], cwd=REPO, capture_output=True,
                           text=True)
    assert out.returncode == 0 and plain.returncode == 0, plain.stdout[-2000:] + plain.stderr[-2000:]


def test_a_base_install_brings_the_host_side_without_torch(tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    import importlib.util

    spec = importlib.util.spec_from_file_location("recast_addon_build", os.path.join(REPO, "blender_addon", "build.py"))
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    src = build.source_copy(str(tmp_path / "src"))  # its own build/ folder: the Blender zip may be building beside it
    pip = subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "--no-deps", src], capture_output=True,
                         text=True, timeout=600)
    if pip.returncode != 0 and "setuptools" in pip.stderr + pip.stdout and "Could not" in pip.stderr:
        pytest.skip(f"the build backend could not be fetched here: {pip.stderr.strip().splitlines()[-1]}")
    assert pip.returncode == 0, pip.stderr[-3000:]
    code = ("import sys, recast.core.job, recast.plugin.common.params, recast.plugin.common.host_job, recast.plugin.common.worker, "
            "recast.plugin.nuke_node; print(sorted(m for m in ('torch', 'numpy', 'OpenImageIO', 'diffusers') "
            "if m in sys.modules))")
    run = subprocess.run([str(venv / "bin" / "python"), "-c", code], capture_output=True, text=True)
    assert run.returncode == 0 and run.stdout.strip() == "[]", run.stderr
    cli = subprocess.run([str(venv / "bin" / "recast"), "demo"], capture_output=True, text=True, cwd=tmp_path)
    assert cli.returncode == 1 and "pip install" in cli.stderr and "render" in cli.stderr
    assert len(cli.stderr.strip().splitlines()) == 1, cli.stderr


def test_the_worker_and_the_server_log_with_timestamps_to_the_file_errors_name(tmp_path, plate):
    import re

    (tmp_path / "job.json").write_text(json.dumps(job_dict()))
    env = {**os.environ, "RECAST_LOG": str(tmp_path / "logs" / "worker.log")}
    ok = subprocess.run(RECAST + ["render", "--job", str(tmp_path / "job.json")], capture_output=True, text=True,
                        env=env, timeout=300)
    assert ok.returncode == 0, ok.stderr
    bad = subprocess.run(RECAST + ["render", "--job", str(tmp_path / "nope.json")], capture_output=True, text=True,
                         env=env, timeout=300)
    assert bad.returncode == 1
    text = (tmp_path / "logs" / "worker.log").read_text()
    stamp = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO \d+ recast: "
    assert re.search(stamp + r"recast render started: render --job ", text)
    assert re.search(stamp + r"recast render ended: exit 0 after ", text)
    assert re.search(stamp + r"error: job file .*nope\.json' does not exist", text)
    assert re.search(stamp + r"recast render ended: exit 1 after ", text)

    conn = tmp_path / "session" / "server.json"
    conn.parent.mkdir()
    assert subprocess.run(RECAST + ["serve", "--connection-file", str(conn)], capture_output=True).returncode == 0
    stop = subprocess.run(RECAST + ["serve", "--stop", "--connection-file", str(conn)], capture_output=True, text=True)
    assert stop.returncode == 0
    server_log = (tmp_path / "session" / "server.json.log").read_text()
    assert re.search(stamp + r"server listening on 127\.0\.0\.1:\d+", server_log)
    assert re.search(stamp + r"server stopped after 0 render\(s\)", server_log)


def test_windows_paths_in_job_files_on_the_windows_code_path(monkeypatch):
    """Drive letters and backslashes, as a Windows host writes them: the frame pattern and the job's paths go
    through os.path, which is ntpath on Windows — selected here for the modules that handle them."""
    import ntpath

    from recast.core.io import frames
    from recast.core.job import before_render, document

    class WindowsOS:  # os as Windows' Python has it, for path handling
        path = ntpath

        def __getattr__(self, name):
            return getattr(os, name)

    monkeypatch.setattr(frames, "os", WindowsOS())
    monkeypatch.setattr(document, "os", WindowsOS())
    monkeypatch.setattr(before_render, "os", WindowsOS())  # the same-file check of paths as text
    seq = frames.SequencePattern.parse(r"C:\shots\sh010\plate\sh010.####.exr")
    assert seq.path(1001) == r"C:\shots\sh010\plate\sh010.1001.exr" and seq.folder == r"C:\shots\sh010\plate"
    job = document.Job.from_dict({"input": {"pattern": r"plate\sh010.%04d.exr"},
                                  "output": {"pattern": r"D:\renders\sh010\out.####.exr"}, "prompt": "x"},
                                 r"C:\shots\sh010")
    assert job.input_sequence.path(1002) == r"C:\shots\sh010\plate\sh010.1002.exr"
    assert job.output_sequence.folder == r"D:\renders\sh010"
    assert job.absolute().to_dict()["input"]["pattern"] == r"C:\shots\sh010\plate\sh010.%04d.exr"
    with pytest.raises(Exception, match="name the same files"):
        document.Job.from_dict({"input": {"pattern": r"C:\s\a.####.exr"}, "output": {"pattern": r"c:\s\..\s\a.####.exr"},
                                "prompt": "x"}, r"C:\s")


def test_the_terminal_display_shows_relayed_events_too():
    """``recast render --server`` relays the server's events with emit(): a person sees them like its own."""
    import io

    from recast.core.progress import Display

    screen = io.StringIO()
    d = Display("render", stream=screen, interval=0)
    d.emit("start", frames="1001-1004", total=4, output="r/x.####.exr")
    d.emit("progress", stage="denoise", done=2, total=4, step=1, steps=2)
    d.emit("frame", frame=1001, path="r/x.1001.exr")
    d.emit("warning", message="something to know")
    d.emit("done", frames=4, output="r/x.####.exr")
    text = screen.getvalue()
    assert "render 1001-1004 · denoise step 1/2 · window 2/2" in text and "1/4 frames" in text
    assert "recast: warning: something to know" in text and "recast render: 4 frame(s) written" in text
    assert '{"event"' not in text


def test_hosts_and_the_terminal_say_what_happens_before_the_first_step():
    """Model loading and depth come before denoising: progress says so instead of sitting at 0 %."""
    from recast.plugin.common.host_job import progress_text

    class Process:
        frames_done, total, eta, progress = 0, 6, None, 0.0

    assert progress_text(Process(), {"event": "progress", "stage": "load", "done": 0, "total": 1}).startswith(
        "loading models · 0/6 frames")
    assert progress_text(Process(), {"event": "progress", "stage": "depth", "done": 2, "total": 6}).startswith(
        "depth 2/6")


def test_a_new_stage_is_drawn_at_once_however_soon_it_comes():
    import io

    from recast.core.progress import Display

    screen = io.StringIO()
    d = Display("render", stream=screen, interval=60)  # nothing redraws on time alone here
    d.start(frames="1001-1006", total=6)
    d.progress("load", 0, 1)
    assert "loading models" in screen.getvalue()


def test_each_host_decision_is_the_one_core_makes():
    """The hosts' menus and Train LoRA's controls come from core's own lists and the job schema: the SAM 2.1
    sizes are the public checkpoints the loader knows, the preset menu the presets `recast models list` knows,
    Train LoRA's defaults and ranges the job's training section's."""
    import dataclasses

    from recast.core.job import CustomizeSpec
    from recast.core.job.sections import SAM_SIZES
    from recast.core.models import presets
    from recast.plugin.common.matte import MATTE_SIZES
    from recast.plugin.common.params import MODEL_FILE, PRESETS, job_param, train_param

    assert tuple(presets.MATTE_SIZES) == SAM_SIZES and MATTE_SIZES == ("preset", *SAM_SIZES)
    builtin = {n[:-5] for n in os.listdir(os.path.dirname(presets.__file__) + "/preset_files") if n.endswith(".toml")}
    assert set(PRESETS) == builtin | set(presets._TINY) | {MODEL_FILE} and PRESETS[-1] == MODEL_FILE
    assert job_param("model").items == PRESETS
    spec = {f.name: f for f in dataclasses.fields(CustomizeSpec)}
    token, steps = train_param("train_token"), train_param("train_steps")
    assert token.default_value == spec["token"].default and steps.default_value == spec["steps"].default
    assert (steps.lo, steps.hi) == (spec["steps"].metadata["check"].lo, spec["steps"].metadata["check"].hi)
