"""Shared fixtures: plates generated in the test (no binary fixtures), CLI runner, CI rules.

``run_cli`` calls the CLI's ``main()`` in this process (stdout and stderr captured as a pipe would
give them), because a fresh Python per call re-imports torch and diffusers and reloads the models;
``run_cli_process`` runs the real ``python -m recast.core`` and is kept for one test per command
(and for anything about signals, stdin or the process itself). ``RECAST_TEST_SUBPROCESS=1`` makes
``run_cli`` a subprocess too.

``RECAST_REQUIRE_ALL=1`` (set by ``.ci/run``) turns every skip into a failure: a test that needs a
tool this machine lacks must not pass CI silently.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys

if os.environ.get("PYTEST_XDIST_WORKER"):
    # Under xdist every core already runs a worker: torch's and BLAS's own thread pools would put
    # two threads on each core and spin against each other (an 8 s test took 30-50 s). One thread
    # per worker, inherited by the subprocesses a test starts. Set before torch is imported.
    for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(_var, "1")

import numpy as np
import pytest

from recast.core.shot.synthetic import write_synthetic_plate
from recast.core.job import SCHEMA

RECAST = [sys.executable, "-m", "recast.core"]


def pytest_report_header(config):
    return f"RECAST_REQUIRE_ALL={os.environ.get('RECAST_REQUIRE_ALL', '')!r} (1: a skip is a failure)"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.skipped and not hasattr(report, "wasxfail") and os.environ.get("RECAST_REQUIRE_ALL") == "1":
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped where RECAST_REQUIRE_ALL=1 (CI): {reason}"


@pytest.fixture(scope="session", autouse=True)
def recast_cache(tmp_path_factory):
    """One cache folder for the whole run (the tiny presets are built there once, by whichever xdist
    worker gets there first: :func:`recast.core.models.tiny.ensure_tiny` is safe for that), never the user's."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        folder = tmp_path_factory.mktemp("recast_cache")
    else:
        folder = tmp_path_factory.getbasetemp().parent / "recast_cache"
        folder.mkdir(exist_ok=True)
    old = os.environ.get("RECAST_CACHE")
    os.environ["RECAST_CACHE"] = str(folder)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # tests never reach a model hub
    yield str(folder)
    if old is None:
        os.environ.pop("RECAST_CACHE", None)
    else:
        os.environ["RECAST_CACHE"] = old


@pytest.fixture(scope="session")
def tiny_preset(recast_cache):
    from recast.core.models.presets import load_preset

    return load_preset("tiny")


@pytest.fixture
def plate(tmp_path):
    """An 6-frame ACEScg demo plate, 1001-1006, 64x40, RGBA half + depth.Z float."""
    pattern = str(tmp_path / "plate" / "sh010.####.exr")
    write_synthetic_plate(pattern, 1001, 6, width=64, height=40)
    return pattern


def listing(folder) -> list[str]:
    """What an artist sees in an output folder: its files, without the shot cache (recast_cache/)."""
    return sorted(n for n in os.listdir(folder) if n != "recast_cache") if os.path.isdir(folder) else []


def job_dict(**overrides) -> dict:
    data = {
        "schema": SCHEMA,
        "input": {"pattern": "plate/sh010.####.exr", "frames": "1001-1006", "colorspace": "ACEScg",
                  "depth_channel": None, "mask_channel": None},
        "output": {"pattern": "render/sh010_recast.####.exr"},
        "prompt": "a claymation street at dusk", "negative_prompt": "",
        "reference_image": None, "reference_weight": 0.6,
        "structure_level": 2, "strength": 1.0, "guidance_scale": 7.5,
        "temporal_guidance": 1.0, "steps": 2, "seed": 1234,
        "model": "tiny", "device": "cpu", "resolution": 64,
        "window": {"length": 4, "overlap": 1}, "handles": 1,
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    return data


@pytest.fixture
def job_file(tmp_path, plate):
    def make(**overrides) -> str:
        path = tmp_path / "job.json"
        path.write_text(json.dumps(job_dict(**overrides)))
        return str(path)
    return make


def run_cli_process(*args, cwd=None, timeout=300) -> subprocess.CompletedProcess:
    """``python -m recast.core ARGS`` in a new process, as a host or a farm runs it."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run(RECAST + [str(a) for a in args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=env)


class _Pipe(io.StringIO):
    """What a command sees on a redirected stream: text, not a terminal."""

    def isatty(self) -> bool:
        return False


def run_cli(*args, cwd=None, timeout=300) -> subprocess.CompletedProcess:
    """``recast ARGS`` through the CLI's ``main()`` in this process: the same exit code, stdout and
    stderr as :func:`run_cli_process` (``timeout`` only applies there)."""
    if os.environ.get("RECAST_TEST_SUBPROCESS") == "1":
        return run_cli_process(*args, cwd=cwd, timeout=timeout)
    from recast.core.cli.main import main

    argv = [str(a) for a in args]
    out, err = _Pipe(), _Pipe()
    here = os.getcwd()
    try:
        if cwd is not None:
            os.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(argv)
            except SystemExit as exc:  # argparse's usage errors and --help
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        os.chdir(here)
    return subprocess.CompletedProcess(RECAST + argv, code, out.getvalue(), err.getvalue())


def events(stdout: str) -> list[dict]:
    """Every stdout line must be one JSON object with an 'event' key."""
    out = []
    for line in stdout.splitlines():
        obj = json.loads(line)
        assert isinstance(obj, dict) and "event" in obj, line
        out.append(obj)
    return out


def write_exr(path, pixels, channels, formats=None, data_window=None, display_window=None, attrs=()):
    """Write an EXR with OpenImageIO directly (independent of Recast's writer)."""
    import OpenImageIO as oiio

    h, w, c = pixels.shape
    # OIIO writes the base format when every channel format agrees, so the base must be that format
    base = oiio.TypeDesc(formats[0]) if formats and len(set(formats)) == 1 else oiio.FLOAT
    spec = oiio.ImageSpec(w, h, c, base)
    spec.channelnames = tuple(channels)
    if formats:
        spec.channelformats = tuple(oiio.TypeDesc(f) for f in formats)
    if data_window:
        spec.x, spec.y = data_window
    if display_window:
        spec.full_x, spec.full_y, spec.full_width, spec.full_height = display_window
    else:
        spec.full_x, spec.full_y, spec.full_width, spec.full_height = spec.x, spec.y, w, h
    for name, typ, value in attrs:
        spec.attribute(name, oiio.TypeDesc(typ), value) if typ != "string" else spec.attribute(name, value)
    out = oiio.ImageOutput.create(str(path))
    assert out.open(str(path), spec), out.geterror()
    assert out.write_image(np.ascontiguousarray(pixels, np.float32))
    out.close()


@pytest.fixture
def fake_hub(tmp_path, tiny_preset, monkeypatch):
    """The tiny preset's parts served by a hub on 127.0.0.1 (:mod:`tests.fake_hub`), an empty Hugging Face
    cache, and a preset file naming them: ``(hub, preset_path)``. Workers started in the test see it too."""
    from tests.fake_hub import FakeHub, hub_preset

    path, repos = hub_preset(str(tmp_path / "presets"), tiny_preset.path)
    with FakeHub(repos) as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.endpoint)
        monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
        monkeypatch.delenv("HF_HUB_CACHE", raising=False)
        yield hub, path
