"""The host side of a render: starting the worker, following its events, cancel, failures."""

import os
import sys
import threading

import pytest

from recast.plugin.common.worker import RenderProcess, WorkerError, worker_command
from tests.conftest import listing

PYTHON_WORKER = f"{sys.executable} -m recast.core"


def test_a_render_followed_to_the_end(tmp_path, job_file):
    seen = []
    run = RenderProcess(job_file(), command=PYTHON_WORKER, log_dir=str(tmp_path / "logs"), on_event=seen.append)
    assert run.wait(300) == "done"
    assert run.frames_done == 6 and run.total == 6 and run.progress == 1.0 and run.error is None
    assert seen[0]["event"] == "start" and seen[-2]["event"] == "done" and seen[-1] == {
        "event": "exit", "state": "done", "code": 0, "error": None}
    steps = [e["done"] for e in seen if e.get("stage") == "denoise"]
    assert steps == sorted(steps) and len(steps) == 4
    assert os.path.isfile(run.log_path) and len(listing(tmp_path / "render")) == 6


def test_cancel_stops_the_worker_with_whole_frames_only(tmp_path, job_file):
    started = threading.Event()
    run = RenderProcess(job_file(steps=40), command=PYTHON_WORKER, log_dir=str(tmp_path),
                        on_event=lambda e: e.get("stage") == "denoise" and started.set())
    assert started.wait(120)
    run.cancel()
    assert run.wait(120) == "cancelled" and run.error is None
    assert listing(tmp_path / "render") == []  # stopped while denoising: no frame, no temporary


def test_a_failing_worker_is_one_line_with_the_log(tmp_path, job_file, plate):
    os.remove(plate.replace("####", "1003"))
    run = RenderProcess(job_file(), command=PYTHON_WORKER, log_dir=str(tmp_path))
    assert run.wait(120) == "failed"
    assert "missing" in run.error and "1003" in run.error and run.log_path in run.error and "\n" not in run.error
    assert "recast: error:" in open(run.log_path).read()


def test_missing_worker_executable(tmp_path, monkeypatch):
    with pytest.raises(WorkerError, match="'/nowhere/recast' was not found.*RECAST_WORKER"):
        RenderProcess(str(tmp_path / "job.json"), command="/nowhere/recast")
    monkeypatch.setenv("RECAST_WORKER", "no-such-recast-binary --x")
    with pytest.raises(WorkerError, match="'no-such-recast-binary' was not found"):
        worker_command()
    monkeypatch.setenv("RECAST_WORKER", PYTHON_WORKER)
    assert worker_command() == [sys.executable, "-m", "recast.core"]


@pytest.mark.parametrize("platform", ["posix", "windows"])
def test_cancel_goes_through_the_worker_stdin_on_both_code_paths(tmp_path, job_file, platform):
    """The host writes 'cancel' on the worker's stdin: the worker stops after the window in hand, long before
    the signal fallback (posix: SIGTERM, windows: CTRL_BREAK_EVENT) would be sent."""
    import time

    started = threading.Event()
    run = RenderProcess(job_file(steps=40), command=PYTHON_WORKER, log_dir=str(tmp_path), platform=platform,
                        on_event=lambda e: e.get("stage") == "denoise" and started.set())
    assert "--control" in run.argv and run.argv[run.argv.index("--control") + 1] == "stdin"
    assert started.wait(120)
    asked = time.monotonic()
    run.cancel(grace=200)  # the fallback would wait 100 s
    assert run.wait(120) == "cancelled" and time.monotonic() - asked < 60
    assert "cancelled (SIGTERM) while denoising" in open(run.log_path).read()
    assert listing(tmp_path / "render") == []


def test_a_host_that_goes_away_cancels_its_worker(tmp_path, job_file):
    """The host's end of the pipe closing (a crashed Nuke) cancels the render: no orphan keeps a GPU."""
    started = threading.Event()
    run = RenderProcess(job_file(steps=40), command=PYTHON_WORKER, log_dir=str(tmp_path),
                        on_event=lambda e: e.get("stage") == "denoise" and started.set())
    assert started.wait(120)
    run._proc.stdin.close()
    assert run.wait(120) == "cancelled"


def test_a_worker_that_fails_before_speaking_the_protocol_is_shown_by_its_own_line(tmp_path, job_file):
    """A worker that cannot even start the render (here: an argument it does not know, as an older worker meets a
    newer host) sent no error event: the host shows the worker's own line from its log, not only an exit code."""
    run = RenderProcess(job_file(), command=PYTHON_WORKER + " --no-such-flag", log_dir=str(tmp_path))
    assert run.wait(120) == "failed"
    assert "unrecognized arguments: --no-such-flag" in run.error and run.log_path in run.error
    assert "exit code" not in run.error
