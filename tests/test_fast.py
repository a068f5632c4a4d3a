"""The fast tier (AnimateLCM wiring on tiny parts), preset defaults for steps and guidance, and the render's
background work: frames written behind the decoder, plate frames read ahead, depth skipped on a prompt change."""

from __future__ import annotations

import json
import os
import signal
import threading

import numpy as np
import pytest

from recast.core.errors import Cancelled, OutputError
from recast.core.io.exrio import read_frame, read_header
from recast.core.job import Job
from recast.core.pipeline.render import render
from recast.core.progress import CancelFlag
from tests.conftest import events, job_dict, listing, run_cli
from tests.test_render import Collect


def _job(tmp_path, **overrides) -> Job:
    return Job.from_dict(job_dict(**overrides), str(tmp_path))


def test_tiny_fast_renders_with_its_preset_defaults_and_records_them(tmp_path, plate):
    data = job_dict(model="tiny-fast")
    del data["steps"], data["guidance_scale"]  # unset: the preset's
    (tmp_path / "job.json").write_text(json.dumps(data))
    r = run_cli("render", "--job", tmp_path / "job.json")
    assert r.returncode == 0, r.stderr
    ev = events(r.stdout)
    assert ev[0]["steps"] == 4 and "LCM few-step sampling (fast tier)" in ev[0]["renderer"]
    assert len([e for e in ev if e.get("stage") == "denoise"]) == 4 * ev[0]["windows"]
    h = read_header(str(tmp_path / "render" / "sh010_recast.1001.exr"))
    assert (h.attribute("recast/steps"), h.attribute("recast/guidance_scale")) == ("4", "1.5")
    recorded = json.loads(h.attribute("recast/job"))
    assert (recorded["steps"], recorded["guidance_scale"]) == (4, 1.5)  # what ran, not null
    # a job that sets them keeps its own (in-process from here: the CLI path is the one above)
    own = Job.from_dict({**data, "steps": 2, "guidance_scale": 3.0, "output": {"pattern": "own/x.####.exr"}},
                        str(tmp_path))
    render(own, reporter=Collect())
    h = read_header(own.output_sequence.path(1001))
    assert (h.attribute("recast/steps"), h.attribute("recast/guidance_scale")) == ("2", "3")
    # the default tier's preset has no defaults: 20 steps, guidance 7.5
    plain = Job.from_dict({**data, "model": "tiny", "output": {"pattern": "plain/x.####.exr"}}, str(tmp_path))
    collect = Collect()
    render(plain, reporter=collect)
    assert collect.events[0]["steps"] == 20
    h = read_header(plain.output_sequence.path(1001))
    assert (h.attribute("recast/steps"), h.attribute("recast/guidance_scale")) == ("20", "7.5")


def test_the_lcm_lora_is_fused_and_the_lcm_steps_draw_their_noise_per_frame(tmp_path, plate, tiny_preset):
    folder = os.path.dirname(tiny_preset.path)
    fast = open(os.path.join(folder, "preset_fast.toml")).read().replace('"./', f'"{folder}/')
    (tmp_path / "with.toml").write_text(fast)
    without = fast.split("[parts.lcm_lora]")[0] + "[parts.ip_adapter]" + fast.split("[parts.ip_adapter]")[1]
    (tmp_path / "without.toml").write_text(without)
    a = _job(tmp_path, model="with.toml", output={"pattern": "a/x.####.exr"}, steps=3)
    b = _job(tmp_path, model="without.toml", output={"pattern": "b/x.####.exr"}, steps=3)
    render(a, reporter=Collect())
    render(b, reporter=Collect())
    pa = read_frame(a.output_sequence.path(1003)).pixels
    assert not np.allclose(pa, read_frame(b.output_sequence.path(1003)).pixels, atol=1e-3)  # the LoRA counts
    # a sub-range with its handles gives the shared frames the same noise at every step: the same frames where
    # the windows match (a window of the whole shot)
    c = _job(tmp_path, model="with.toml", output={"pattern": "c/x.####.exr"}, steps=3, window={"length": 8,
                                                                                             "overlap": 2})
    whole = _job(tmp_path, model="with.toml", output={"pattern": "w/x.####.exr"}, steps=3,
                 window={"length": 8, "overlap": 2})
    render(whole, reporter=Collect())
    from recast.core.io.frames import FrameRange

    render(c, frames=FrameRange(1002, 1004), reporter=Collect(), context=True)
    for f in (1002, 1003, 1004):
        np.testing.assert_array_equal(read_frame(c.output_sequence.path(f)).pixels,
                                      read_frame(whole.output_sequence.path(f)).pixels)


def test_an_lcm_render_cancelled_while_denoising_resumes_to_the_uninterrupted_frames(tmp_path, plate):
    reference = _job(tmp_path, model="tiny-fast", steps=4, output={"pattern": "ref/x.####.exr"})
    render(reference, reporter=Collect())
    job = _job(tmp_path, model="tiny-fast", steps=4)
    cancel = CancelFlag()

    class CancelInStepThree(Collect):
        def progress(self, stage, done, total, **fields):
            super().progress(stage, done, total, **fields)
            if stage == "denoise" and fields.get("step") == 3:
                cancel.set(signal.SIGINT)

    with pytest.raises(Cancelled, match="while denoising"):
        render(job, reporter=CancelInStepThree(), cancel=cancel)
    resumed = render(job, reporter=Collect())
    assert resumed.resumed_from_step == 2
    for f in range(1001, 1007):
        np.testing.assert_array_equal(read_frame(job.output_sequence.path(f)).pixels,
                                      read_frame(reference.output_sequence.path(f)).pixels)


@pytest.mark.parametrize("text, message", [
    ('scheduler = "euler"', "scheduler 'euler' is not one of ddim, lcm"),
    ('[defaults]\nsteps = 0', "[defaults] steps = 0; expected int 1..200"),
    ('[defaults]\nseed = 3', "[defaults] has 'seed'; it may set steps, guidance_scale"),
])
def test_a_bad_preset_scheduler_or_default_is_one_line(tmp_path, plate, tiny_preset, text, message):
    folder = os.path.dirname(tiny_preset.path)
    base = open(tiny_preset.path).read().replace('"./', f'"{folder}/')
    head, parts = base.split("[parts.base]", 1)
    (tmp_path / "bad.toml").write_text(head + text + "\n[parts.base]" + parts)
    (tmp_path / "job.json").write_text(json.dumps(job_dict(model="bad.toml")))
    r = run_cli("render", "--job", tmp_path / "job.json")
    assert r.returncode == 1 and message in r.stderr and r.stderr.count("\n") == 1, r.stderr
    assert not listing(tmp_path / "render")


# --- writing behind, reading ahead -------------------------------------------------------------

def test_frames_are_written_behind_the_decoder_in_order_and_each_is_on_disk_when_announced(tmp_path, plate):
    job = _job(tmp_path)
    seen = []

    class Check(Collect):
        def frame(self, frame, path, **fields):
            assert os.path.isfile(path) and read_frame(path).pixels.shape[:2] == (40, 64)  # complete when announced
            seen.append((frame, threading.current_thread().name))
            super().frame(frame, path, **fields)

    render(job, reporter=Check())
    assert [f for f, _ in seen] == list(range(1001, 1007))
    assert {t for _, t in seen} == {"recast-writer"}  # off the main thread
    other = _job(tmp_path, output={"pattern": "inline/x.####.exr"})
    render(other, reporter=Collect(), write_behind=False)
    for f in range(1001, 1007):  # the same frames either way
        np.testing.assert_array_equal(read_frame(job.output_sequence.path(f)).pixels,
                                      read_frame(other.output_sequence.path(f)).pixels)


def test_a_cancel_while_writing_keeps_only_whole_frames_and_a_rerun_finishes_them(tmp_path, plate):
    job = _job(tmp_path)
    cancel = CancelFlag()

    class CancelAtTheSecondFrame(Collect):
        def frame(self, frame, path, **fields):
            super().frame(frame, path, **fields)
            if frame == 1002:
                cancel.set(signal.SIGTERM)

    with pytest.raises(Cancelled, match=r"cancelled \(SIGTERM\) after \d of 6 frames were written"):
        render(job, reporter=CancelAtTheSecondFrame(), cancel=cancel)
    written = listing(tmp_path / "render")
    assert 2 <= len(written) < 6 and all(n.startswith("sh010_recast.") for n in written)  # no temporaries
    for name in written:
        read_frame(str(tmp_path / "render" / name))
    again = render(job, reporter=Collect())
    assert sorted(again.skipped + again.frames) == list(range(1001, 1007)) and len(again.skipped) == len(written)


def test_a_write_that_fails_on_the_writer_thread_is_the_renders_one_error(tmp_path, plate, monkeypatch):
    from recast.core.pipeline import stages

    real = stages.write_parts

    def failing(path, parts, extra=None):
        if path.endswith(".1003.exr"):
            raise OutputError(f"{path}: cannot be written (no space left on device)")
        return real(path, parts, extra)

    monkeypatch.setattr(stages, "write_parts", failing)
    with pytest.raises(OutputError, match="1003.exr: cannot be written"):
        render(_job(tmp_path), reporter=Collect())
    assert listing(tmp_path / "render") == ["sh010_recast.1001.exr", "sh010_recast.1002.exr"]


def test_a_rerender_after_a_prompt_change_reads_no_plate_frame_for_depth(tmp_path, plate, monkeypatch):
    from recast.core.shot.model_frames import ModelFrames

    reads = []
    real = ModelFrames.get
    monkeypatch.setattr(ModelFrames, "get", lambda self, f: reads.append(f) or real(self, f))
    render(_job(tmp_path), reporter=Collect())
    assert sorted(reads) == list(range(1001, 1007))  # strength 1, no matte: the plate is read for depth only
    reads.clear()
    render(_job(tmp_path, prompt="a watercolour street"), reporter=Collect())
    assert reads == []  # the depth of every plate file as it was, by its size and time
    os.utime(plate.replace("####", "1004"))  # the file changed (touched): its depth is looked at again
    render(_job(tmp_path, prompt="an oil painting"), reporter=Collect())
    assert sorted(reads) == list(range(1001, 1007))


def test_hosts_offer_the_fast_tier_and_leave_steps_to_the_preset_at_zero():
    from recast.plugin.common.params import JOB_PARAMS, fill_job

    by = {p.name: p for p in JOB_PARAMS}
    assert by["model"].items[:-1] == ("default", "fast", "wan-vace-1.3b", "wan-vace-14b", "wan-vace-1.3b-fast",
                                      "wan-vace-14b-fast", "wan22-vace-fun-a14b", "tiny", "tiny-fast", "tiny-wan",
                                      "tiny-wan22", "tiny-wan-fast")
    assert by["steps"].default_value == 0 and by["guidance_scale"].default_value == 0.0
    values = {p.name: p.default_value for p in JOB_PARAMS}
    values.update(model_file="", **{n: "" for n in ("lora_1", "lora_2", "lora_3")})
    data = fill_job({}, values)
    assert data["steps"] is None and data["guidance_scale"] is None
    data = fill_job({}, {**values, "steps": 8, "guidance_scale": 2.0})
    assert (data["steps"], data["guidance_scale"]) == (8, 2.0)


# --- the hosts -----------------------------------------------------------------------------------

from tests.test_nuke import finish, gui, nuke, read_plate, recast_node  # noqa: E402,F401 (fixtures)


def test_the_nuke_node_renders_the_fast_tier_with_its_preset_steps(gui, plate, tmp_path):
    node = recast_node(gui, read_plate(gui, plate), tmp_path / "out", model="tiny-fast", steps=0,
                       guidance_scale=0.0)
    assert gui.fake_tasks() == []
    gui.fake_press(node, "render")
    finish(gui, node)
    assert not gui.fake_messages(), gui.fake_messages()
    job = json.load(open(tmp_path / "out" / "Recast1.recast.json"))
    assert (job["model"], job["steps"], job["guidance_scale"]) == ("tiny-fast", None, None)
    h = read_header(str(tmp_path / "out" / "render" / "v001" / "Recast1.1001.exr"))
    assert (h.attribute("recast/steps"), h.attribute("recast/guidance_scale")) == ("4", "1.5")


@pytest.mark.slow
def test_compile_renders_the_frames_of_an_uncompiled_render(tmp_path, plate):
    """torch.compile on the CPU (about 90 s to compile the tiny UNet and ControlNet here; `pytest -m slow`)."""
    plain = _job(tmp_path, output={"pattern": "plain/x.####.exr"})
    compiled = _job(tmp_path, output={"pattern": "compiled/x.####.exr"}, compile=True)
    render(plain, reporter=Collect())
    result = render(compiled, reporter=Collect())
    assert result.timing["load"] > 1.0  # the compilation, reported as loading
    for f in range(1001, 1007):
        np.testing.assert_allclose(read_frame(compiled.output_sequence.path(f)).pixels,
                                   read_frame(plain.output_sequence.path(f)).pixels, atol=2e-3, rtol=2e-2)
        # rtol: compiled kernels reorder float sums, and the inverse model view stretches that near white (~1.4% at 330)


def test_a_job_that_leaves_steps_to_its_preset_renders_in_chunks_and_assembles(tmp_path, plate):
    """The chunk folders are named by the job's fingerprint: the render's (steps filled in) and assemble's (steps
    still unset in the job) must agree."""
    from recast.core.farm.chunks import assemble
    from recast.core.io.frames import FrameRange
    from recast.core.progress import Reporter

    data = job_dict(model="tiny-fast", handles=1)
    del data["steps"], data["guidance_scale"]
    job = Job.from_dict(data, str(tmp_path))
    for chunk in (FrameRange(1001, 1003), FrameRange(1004, 1006)):
        render(job, reporter=Collect(), chunk=chunk, chunk_set="s1")
    assemble(job, "s1", Reporter(open(os.devnull, "w")), CancelFlag())
    assert listing(tmp_path / "render") == [f"sh010_recast.{f}.exr" for f in range(1001, 1007)]
