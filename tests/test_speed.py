"""Speed and scale on the tiny Wan preset: the job's cache hook and attention kernel (rendered, recorded, refused in
one line where they cannot run), the cache kept per window and guidance branch, and one shot on several devices."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from recast.core.errors import Cancelled, DeviceError, JobError
from recast.core.io.exrio import read_frame, read_header
from recast.core.job import Job
from recast.core.pipeline.render import render
from recast.core.progress import CancelFlag
from recast.core.shot.synthetic import write_synthetic_plate
from tests.conftest import job_dict, listing, run_cli
from tests.test_render import Collect

WAN = {"model": "tiny-wan", "resolution": 64, "steps": 4, "window": {"length": 9, "overlap": 4}, "handles": 4}
FBC = {"method": "first_block", "threshold": 0.2}


def _plate(tmp_path, count=9):
    write_synthetic_plate(str(tmp_path / "plate" / "sh010.####.exr"), 1001, count, width=64, height=40)


def _job(tmp_path, out="render", frames="1001-1009", **extra) -> Job:
    # the plate's own depth (no estimator to load: these tests are about the transformer)
    return Job.from_dict(job_dict(**{**WAN, "input": {"frames": frames, "depth_channel": "depth.Z"},
                                     "output": {"pattern": f"{out}/x.####.exr"}, **extra}), str(tmp_path))


@pytest.fixture(scope="module")
def loader(tmp_path_factory):
    """One tiny-wan loader for the module's renders (models loaded once, as the desk service keeps them: a cache
    hook must not carry from one render to the next)."""
    from recast.core.models.loader import loader_for

    return loader_for(Job.from_dict(job_dict(**WAN), str(tmp_path_factory.mktemp("loader"))))


def _rgb(job, frames):
    return np.stack([read_frame(job.output_sequence.path(f)).pixels[:, :, :3] for f in frames])


def test_a_cache_hook_renders_is_recorded_and_never_mixes_with_uncached_frames(tmp_path, loader):
    _plate(tmp_path, 5)
    plain = _job(tmp_path, frames="1001-1005", steps=3)
    render(plain, reporter=Collect(), loader=loader)
    cached = _job(tmp_path, frames="1001-1005", steps=3, cache=FBC)
    first = render(cached, reporter=Collect(), loader=loader)
    assert first.skipped == [] and first.frames == list(range(1001, 1006))  # the uncached frames are not reused
    header = read_header(cached.output_sequence.path(1005))
    assert json.loads(header.attribute("recast/cache")) == FBC
    assert json.loads(header.attribute("recast/job"))["cache"] == FBC
    again = render(cached, reporter=Collect(), loader=loader)
    assert again.skipped == list(range(1001, 1006))  # a cached render resumes itself
    taylor = _job(tmp_path, "taylor", "1001-1005", steps=3, cache="taylorseer")  # the command line's METHOD form
    render(taylor, reporter=Collect(), loader=loader)
    assert json.loads(read_header(taylor.output_sequence.path(1001)).attribute("recast/cache")) == {
        "method": "taylorseer", "interval": 5, "warmup": 3}


def test_sdpa_renders_the_auto_frames_and_is_recorded(tmp_path, loader):
    _plate(tmp_path, 5)
    auto, sdpa = _job(tmp_path, "auto", "1001-1005"), _job(tmp_path, "sdpa", "1001-1005", attention="sdpa")
    render(auto, reporter=Collect(), loader=loader)
    render(sdpa, reporter=Collect(), loader=loader)
    frames = range(1001, 1006)
    np.testing.assert_array_equal(_rgb(auto, frames), _rgb(sdpa, frames))  # 'auto' is diffusers' SDPA default
    assert read_header(sdpa.output_sequence.path(1001)).attribute("recast/attention") == "sdpa"
    assert read_header(auto.output_sequence.path(1001)).attribute("recast/attention") is None


@pytest.mark.parametrize("extra, message", [
    ({"cache": FBC, "model": "tiny", "window": {"length": 4, "overlap": 1}},
     "job field 'cache' is not supported by the 'animatediff' backend"),
    ({"attention": "flash", "model": "tiny", "window": {"length": 4, "overlap": 1}},
     "job field 'attention': 'flash' is not supported by the 'animatediff' backend"),
    ({"attention": "flash"}, "job field 'attention': 'flash' "),
    ({"attention": "sage"}, "job field 'attention': 'sage' "),
    ({"attention": "xformers"}, "job field 'attention': \"xformers\" is not allowed; expected 'auto' or 'sdpa'"),
    ({"cache": {"method": "mag"}}, "method 'mag' needs 'ratios'"),
    ({"cache": {"method": "first_block", "threshold": 0}}, "'threshold' is a number above 0"),
    ({"cache": {"method": "first_block", "interval": 2}}, "method 'first_block' takes threshold, not 'interval'"),
    ({"cache": "teacache"}, "job field 'cache': \"teacache\" is not allowed"),
    ({"devices": ["cpu"]}, "a list of two or more devices"),
    ({"devices": ["cuda:0", "cuda:0"]}, "each GPU once"),
    ({"devices": ["cpu", "tpu"]}, "job field 'devices'"),
])
def test_what_cannot_run_is_one_line_before_anything_is_written(tmp_path, extra, message):
    _plate(tmp_path, 5)
    with pytest.raises(JobError) as info:
        render(_job(tmp_path, frames="1001-1005", **extra), reporter=Collect())
    text = str(info.value)
    assert message in text and "\n" not in text, text
    if extra.get("attention") in ("flash", "sage") and extra.get("model") is None:  # not installed here, or no GPU
        assert "not installed" in text or "CUDA GPUs only" in text, text
    assert not os.path.exists(tmp_path / "render")


def test_the_command_line_says_an_unsupported_cache_in_one_line(tmp_path):
    _plate(tmp_path, 5)
    (tmp_path / "job.json").write_text(json.dumps(job_dict(model="tiny", cache=FBC)))
    r = run_cli("render", "--job", tmp_path / "job.json")
    assert r.returncode == 1 and r.stderr.count("\n") == 1, r.stderr
    assert "job field 'cache' is not supported by the 'animatediff' backend" in r.stderr
    assert not listing(tmp_path / "render")


def test_each_window_and_guidance_branch_keeps_its_own_cache_state(tmp_path, loader):
    """A window's prediction at step k in a cached render does not depend on which windows ran before it (the hooks'
    state is per window and branch): window B after A equals window B alone; calls sharing one state would not."""
    import torch

    from recast.core.backends import backend_for, cache_hooks
    from recast.core.backends.wan_vace import WanConditions
    _plate(tmp_path, 5)
    job = _job(tmp_path, frames="1001-1005", cache={"method": "first_block", "threshold": 0.5})
    backend = backend_for(job.resolved(), loader)
    cfg = backend.transformer.config
    gen = torch.Generator().manual_seed(0)
    cond = WanConditions(text=torch.randn(2, 8, cfg.text_dim, generator=gen),
                         control=torch.randn(96, 6, 4, 8, generator=gen), reference=None,
                         scale=torch.ones(len(cfg.vace_layers)))
    steps = [torch.tensor([999.0 - 150 * k]) for k in range(4)]
    a, b = slice(0, 3), slice(3, 6)
    lat = {w.start: [torch.randn(3, 16, 4, 8, generator=gen) * (1 - 0.1 * k) for k in range(4)] for w in (a, b)}

    def run(windows):
        out = []
        with backend.stage("denoise"):
            for k, t in enumerate(steps):
                for w in windows:
                    eps = backend.predict(lat[w.start][k], t, cond, w)
                    if w is b:
                        out.append(eps)
        return torch.stack(out)

    alone, after_a = run([b]), run([a, b])
    torch.testing.assert_close(after_a, alone, rtol=0, atol=0)
    original = cache_hooks.context_name
    try:  # the same calls with every window sharing one state: B reuses A's features (the test can fail)
        cache_hooks.context_name = lambda branch, window: branch
        shared = run([a, b])
    finally:
        cache_hooks.context_name = original
    assert (shared - alone).abs().max() > 1e-3
    np.testing.assert_array_equal(run([b]).numpy(), alone.numpy())  # nothing carried from one pass to the next


def test_a_cached_render_stopped_while_denoising_reruns_to_the_uninterrupted_frames(tmp_path, loader):
    _plate(tmp_path)
    reference = _job(tmp_path, "ref", cache=FBC)
    render(reference, reporter=Collect(), loader=loader)
    job = _job(tmp_path, cache=FBC)
    flag = CancelFlag()

    class StopAtStep3(Collect):
        def emit(self, event, **fields):
            super().emit(event, **fields)
            if fields.get("stage") == "denoise" and fields.get("step") == 3:
                flag.set()

    with pytest.raises(Cancelled):
        render(job, reporter=StopAtStep3(), cancel=flag, loader=loader)
    assert os.listdir(tmp_path / "render" / "recast_cache" / "state")  # steps 1-2 were saved
    again = render(job, reporter=Collect(), loader=loader)
    assert again.resumed_from_step is None  # denoised again: the hooks' features were not saved
    frames = range(1001, 1010)
    np.testing.assert_array_equal(_rgb(job, frames), _rgb(reference, frames))


# --- several devices ------------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_two_cpu_worker_processes_give_the_frames_of_one_process(tmp_path):
    """Wan with a cache hook (each window's state stays in one worker) and SD 1.5: the windows of every step spread
    over two worker processes and fused in order give one process's frames."""
    write_synthetic_plate(str(tmp_path / "plate" / "sh010.####.exr"), 1001, 17, width=64, height=40)
    cases = {"wan": dict(frames="1001-1017", steps=3, cache=FBC),
             "sd": dict(frames="1001-1010", model="tiny", steps=2, window={"length": 4, "overlap": 1})}
    for name, extra in cases.items():
        one = _job(tmp_path, f"{name}1", **extra)
        two = _job(tmp_path, f"{name}2", **extra, devices=["cpu", "cpu"])
        render(one, reporter=Collect())
        events = Collect()
        render(two, reporter=events)
        frames = range(1001, int(extra["frames"][-4:]) + 1)
        delta = float(np.abs(_rgb(one, frames) - _rgb(two, frames)).max())
        assert delta <= 2e-3, (name, delta)
        workers = [e for e in events.events if e.get("part") == "device workers"]
        assert workers[-1]["devices"] == ["cpu", "cpu"] and len(set(workers[-1]["pids"])) == 2
        assert workers[-1]["split"] == "windows"  # more windows than devices: dealt out
        assert all(not _alive(pid) for pid in workers[-1]["pids"])
        assert read_header(two.output_sequence.path(1001)).attribute("recast/devices") == "cpu,cpu"


@pytest.mark.slow
def test_one_long_window_split_over_two_cpu_processes_by_context_parallelism_gives_one_process_frames(tmp_path):
    """Fewer windows than devices: diffusers' context parallelism (Ulysses over a gloo group) splits each window's
    forward pass over the two worker processes."""
    _plate(tmp_path)
    one, two = _job(tmp_path, "one", steps=3), _job(tmp_path, "two", steps=3, devices=["cpu", "cpu"])
    render(one, reporter=Collect())
    events = Collect()
    result = render(two, reporter=events)
    workers = [e for e in events.events if e.get("part") == "device workers"][-1]
    assert workers["split"] == "context parallel" and not any(_alive(p) for p in workers["pids"])
    assert result.timing["unet"] > 0  # the time waiting for the workers is the network's
    delta = float(np.abs(_rgb(one, range(1001, 1010)) - _rgb(two, range(1001, 1010))).max())
    assert delta <= 2e-3, delta


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (exited, not yet reaped) counts as gone
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.slow
def test_a_device_worker_that_dies_ends_the_render_in_one_line_and_leaves_no_process(tmp_path):
    import multiprocessing
    import signal

    _plate(tmp_path)
    job = _job(tmp_path, devices=["cpu", "cpu"])
    pids = []

    class KillOne(Collect):
        def emit(self, event, **fields):
            super().emit(event, **fields)
            if fields.get("part") == "device workers":
                pids[:] = fields["pids"]
            if fields.get("stage") == "denoise" and fields.get("done") == 1:
                os.kill(pids[1], signal.SIGKILL)

    with pytest.raises(DeviceError) as info:
        render(job, reporter=KillOne())
    text = str(info.value)
    assert "\n" not in text and f"device worker on cpu (pid {pids[1]}) was killed (signal 9)" in text, text
    assert not [f for f in listing(tmp_path / "render") if f.endswith(".exr")]
    assert len(pids) == 2 and not any(_alive(p) for p in pids) and not multiprocessing.active_children()


def test_the_memory_preflight_counts_the_cache_and_checks_each_device(tmp_path, monkeypatch):
    from recast.core.errors import ResourceError
    from recast.core.pipeline import preflight
    from recast.core.pipeline.render import check_render

    _plate(tmp_path, 17)
    monkeypatch.setattr(preflight, "available_memory", lambda device: (1024, f"{device} memory"))
    with pytest.raises(ResourceError) as info:
        check_render(_job(tmp_path, frames="1001-1017", cache="taylorseer"))
    # TaylorSeer keeps two fp32 factors per attention and feed-forward, per window and branch: its own part
    assert ", cache 0.0)" in str(info.value)
    assert "\n" not in str(info.value)
    with pytest.raises(ResourceError) as info:
        check_render(_job(tmp_path, frames="1001-1017", devices=["cpu", "cpu"]))
    text = str(info.value)  # the render process's share (decode, shot) is checked first, then each worker's
    assert "(cpu of the job's devices) (decode " in text and "models" not in text, text
    monkeypatch.setattr(preflight, "available_memory",
                        lambda device: (10**12, "x") if _calls.append(1) or len(_calls) == 1 else (1024, "worker"))
    _calls = []
    with pytest.raises(ResourceError) as info:
        check_render(_job(tmp_path, frames="1001-1017", devices=["cpu", "cpu"]))
    assert "(models " in str(info.value) and "one window" in str(info.value) and "decode" not in str(info.value)
    assert not os.path.exists(tmp_path / "render")


def test_the_farm_bundle_keeps_devices_and_asks_for_a_host_with_that_many_gpus(tmp_path):
    from recast.core.farm.openjd import write_openjd_bundle

    _plate(tmp_path, 5)
    job = _job(tmp_path, frames="1001-1005", device="cuda:0", devices=["cuda:0", "cuda:1"], cache=FBC)
    write_openjd_bundle(job, str(tmp_path / "bundle"))
    saved = json.loads((tmp_path / "bundle" / "job.json").read_text())
    assert saved["devices"] == ["cuda:0", "cuda:1"] and saved["cache"] == FBC and saved["attention"] == "auto"
    template = json.loads((tmp_path / "bundle" / "template.json").read_text())
    amounts = [a for step in template["steps"] for a in step.get("hostRequirements", {}).get("amounts", [])]
    assert amounts and all(a == {"name": "amount.worker.gpu", "min": 2} for a in amounts)
    assert Job.from_dict(saved, str(tmp_path)).fingerprint() == job.fingerprint()  # the farm renders the same frames


@pytest.mark.slow
def test_the_gpu_benchmark_runs_its_every_case_at_tiny_sizes_on_the_cpu():
    import subprocess
    import sys

    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    r = subprocess.run([sys.executable, os.path.join(repo, "bench", "gpu.py"), "--smoke"], capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    rows = [line for line in r.stdout.splitlines() if line.startswith("| ") and not line.startswith("| case")]
    by = {}
    for line in rows:
        cells = [c.strip() for c in line.strip("|").split("|")]
        by.setdefault(cells[0], []).append(cells)
    assert {"SD 1.5 + AnimateDiff + depth ControlNet", "SD 1.5 fast tier", "Wan 2.1 VACE 1.3B (tiny config)",
            "Wan 2.1 VACE 14B (tiny config)"} <= set(by), r.stdout
    settings = [c[1] for c in by["Wan 2.1 VACE 1.3B (tiny config)"]]
    for setting in ("sdpa", "sdpa + First-Block cache 0.2", "sdpa + TaylorSeer (interval 5, warm-up 3)",
                    "fast tier: 4 steps, no guidance", "sdpa + compile (regional)"):
        cells = next(c for c in by["Wan 2.1 VACE 1.3B (tiny config)"] if c[1] == setting)
        assert float(cells[4]) > 0 and float(cells[7]) > 0, cells  # seconds per step, peak memory
    assert settings.count("flash-attn") == 2  # 33 and 81 frames: measured, or a row that says why not
    for cells in by["Wan 2.1 VACE 1.3B (tiny config)"]:
        if cells[1] in ("flash-attn", "SageAttention") and cells[4] == "-":
            assert cells[8].startswith("skipped: job field 'attention'"), cells
    stock, recast = by["SD 1.5 + AnimateDiff + depth ControlNet"]
    assert float(stock[5]) > 0 and float(recast[5]) > 0 and "Recast render" in recast[1]


@pytest.mark.slow
def test_the_desk_and_farm_server_renders_cache_attention_and_devices_as_the_job_says(tmp_path):
    """The server's runner (``recast serve``, the desk service) takes the job as sent: cache, attention and devices
    reach the render (its headers), with the models it keeps between requests."""
    from recast.core.farm.runner import Loaders, run_request

    _plate(tmp_path, 5)
    loaders = Loaders()
    for out, extra in (("a", {"cache": FBC, "attention": "sdpa"}), ("b", {"devices": ["cpu", "cpu"]})):
        data = job_dict(**{**WAN, "input": {"frames": "1001-1005", "depth_channel": "depth.Z"},
                           "output": {"pattern": f"{out}/x.####.exr"}, **extra})
        events = Collect()
        assert run_request({"job": data, "root": str(tmp_path)}, loaders, events, CancelFlag()) == 0, events.events
        header = read_header(str(tmp_path / out / "x.1003.exr"))
        job = json.loads(header.attribute("recast/job"))
        assert all(job[k] == v for k, v in extra.items())
    assert json.loads(read_header(str(tmp_path / "a" / "x.1001.exr")).attribute("recast/cache")) == FBC
    assert read_header(str(tmp_path / "b" / "x.1001.exr")).attribute("recast/devices") == "cpu,cpu"


def test_the_hosts_controls_spell_cache_attention_and_devices_as_the_command_line_does():
    """The Nuke node's and Blender panel's Advanced controls (one table): empty leaves cache and devices off; a cache
    is 'METHOD[:THRESHOLD]', devices 'cuda:0,cuda:1'; what the job refuses is the job's one line."""
    from recast.plugin.common.params import JOB_PARAMS, fill_job

    by = {p.name: p for p in JOB_PARAMS}
    assert by["attention"].items == ("auto", "sdpa", "flash", "sage") and by["attention"].advanced
    values = {p.name: p.default_value for p in JOB_PARAMS}
    values.update(model="tiny-wan", model_file="", prompt="a neon alley", **{n: "" for n in ("lora_1", "lora_2", "lora_3")})
    base = job_dict(model="tiny-wan")
    data = fill_job(json.loads(json.dumps(base)), values)
    assert (data["cache"], data["devices"], data["attention"]) == (None, None, "auto")
    job = Job.from_dict(fill_job(json.loads(json.dumps(base)),
                                 {**values, "cache": " first_block:0.2 ", "devices": "cpu, cpu", "attention": "sdpa"}))
    assert (job.cache["method"], job.cache["threshold"], job.devices, job.attention) == (
        "first_block", 0.2, ["cpu", "cpu"], "sdpa")
    for bad, field in (({"devices": "cuda:0,cuda:0"}, "devices"), ({"cache": "fastest"}, "cache")):
        with pytest.raises(JobError, match=field) as err:
            Job.from_dict(fill_job(json.loads(json.dumps(base)), {**values, **bad}))
        assert "\n" not in str(err.value)


def test_a_cache_hook_on_wan22_is_on_both_experts_and_changes_the_frames(tmp_path, monkeypatch):
    """Wan 2.2 denoises with two experts: each gets the job's cache hook (the render differs from an uncached one,
    and every hook is gone afterwards, so a kept model renders uncached again bit-equal)."""
    from recast.core.models.loader import loader_for

    _plate(tmp_path, 5)
    wan22 = {"model": "tiny-wan22", "steps": 8}
    plain = _job(tmp_path, "plain", "1001-1005", **wan22)
    loader = loader_for(plain)
    render(plain, reporter=Collect(), loader=loader)
    from recast.core.backends import cache_hooks

    hooked, real = [], cache_hooks.cached

    def spy(model, cache, steps):
        hooked.append((type(model).__name__, id(model), bool(cache)))
        return real(model, cache, steps)

    monkeypatch.setattr(cache_hooks, "cached", spy)
    cached = _job(tmp_path, "cached", "1001-1005", cache={"method": "first_block", "threshold": 1.0}, **wan22)
    render(cached, reporter=Collect(), loader=loader)
    assert len({h[1] for h in hooked if h[2]}) == 2  # a hook on each expert
    assert np.abs(_rgb(cached, [1003]) - _rgb(plain, [1003])).max() > 1e-3  # the hook skipped blocks
    again = _job(tmp_path, "again", "1001-1005", **wan22)
    render(again, reporter=Collect(), loader=loader)
    assert np.array_equal(_rgb(again, range(1001, 1006)), _rgb(plain, range(1001, 1006)))
