"""Shared fixtures: plates generated in the test (no binary fixtures), CLI runner."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from recast.core.shot.synthetic import write_synthetic_plate
from recast.core.job import SCHEMA

RECAST = [sys.executable, "-m", "recast.core"]


@pytest.fixture(scope="session", autouse=True)
def recast_cache(tmp_path_factory):
    """One cache folder for the whole run (the tiny preset is built there once), never the user's."""
    folder = tmp_path_factory.mktemp("recast_cache")
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


def run_cli(*args, cwd=None, timeout=300) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run(RECAST + [str(a) for a in args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=env)


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
