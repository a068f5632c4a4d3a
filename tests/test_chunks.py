"""Farm chunks: handles, the shot-anchored grid, seam cross-fades, assemble, the worker server."""

import json
import os
import time

import numpy as np
import pytest

from recast.core.farm.chunks import assemble
from recast.core.pipeline.chunks import ChunkPlan, chunk_sequence
from recast.core.errors import SequenceError
from recast.core.io.exrio import read_frame, read_header
from recast.core.io.frames import FrameRange
from recast.core.job import Job
from recast.core.progress import CancelFlag
from recast.core.pipeline.render import render
from tests.conftest import events, job_dict, listing, run_cli
from tests.test_render import Collect

SHOT = FrameRange(1001, 1012)


def tile(first, last, sizes):
    out, f = [], first
    for n in sizes:
        out.append(FrameRange(f, f + n - 1))
        f += n
    assert f - 1 == last
    return out


@pytest.mark.parametrize("sizes, h", [([4, 4, 4], 2), ([5, 4, 3], 2), ([2, 3, 7], 3), ([12], 2), ([6, 6], 0)])
def test_cross_fade_weights_tile_the_shot(sizes, h):
    plans = [ChunkPlan(SHOT, c, h) for c in tile(1001, 1012, sizes)]
    for f in SHOT:
        rendering = [p for p in plans if f in p.rendered]
        weights = [p.weight(f) for p in rendering]
        assert sum(weights) > 0
        owner = next(p for p in plans if f in p.chunk)
        # a frame is a seam frame of a chunk exactly when another chunk renders it too
        for p in rendering:
            assert p.is_seam(f) == (len(rendering) > 1), (f, p.chunk)
        if len(rendering) == 1:
            assert rendering[0] is owner and weights == [1.0]
    for a, b in zip(plans, plans[1:]):  # long enough chunks: a plain linear cross-fade summing to 1
        if min(len(a.chunk), len(b.chunk)) >= 2 * h > 0:
            seam = range(a.chunk.last + 1 - h, a.chunk.last + h + 1)
            assert [round(a.weight(f) + b.weight(f), 9) for f in seam] == [1.0] * (2 * h)
            assert [b.weight(f) for f in seam] == sorted(b.weight(f) for f in seam)


@pytest.fixture
def shot(tmp_path):
    from recast.core.shot.synthetic import write_synthetic_plate

    write_synthetic_plate(str(tmp_path / "plate" / "sh010.####.exr"), 1001, 12, width=64, height=40)
    return Job.from_dict(job_dict(input={"frames": "1001-1012"}, window={"length": 4, "overlap": 1}, handles=2),
                         str(tmp_path))


def test_chunks_write_interior_frames_once_and_assemble_cross_fades_the_seams(shot, tmp_path):
    chunks = tile(1001, 1012, [4, 4, 4])
    results = [render(shot, reporter=Collect(), chunk=c, chunk_set="sub1") for c in chunks]
    # handles: the middle chunk renders 1003-1010; the first renders 1001-1006
    assert [r.frames for r in results] == [list(range(1001, 1007)), list(range(1003, 1011)), list(range(1007, 1013))]
    out = tmp_path / "render"
    interior = ["sh010_recast.1001.exr", "sh010_recast.1002.exr", "sh010_recast.1011.exr", "sh010_recast.1012.exr"]
    assert listing(out) == interior  # seam frames 1003-1006 and 1007-1010 wait for the assemble step
    stamps = {n: os.stat(out / n).st_mtime_ns for n in interior}

    written = assemble(shot, "sub1", Collect(), CancelFlag())
    assert written == list(range(1003, 1011))
    assert listing(out) == [f"sh010_recast.{f}.exr" for f in SHOT]
    assert {n: os.stat(out / n).st_mtime_ns for n in interior} == stamps  # written once, never again
    for f in written:  # each seam frame is the weighted mean of the chunks that rendered it
        plans = [ChunkPlan(SHOT, c, 2) for c in chunks]
        parts = [(p.weight(f), read_frame(chunk_sequence(shot, "sub1", p.chunk).path(f)).rgb())
                 for p in plans if p.weight(f) > 0]
        expect = sum(w * x.astype(np.float64) for w, x in parts) / sum(w for w, _ in parts)
        got = read_frame(str(out / f"sh010_recast.{f}.exr"))
        np.testing.assert_allclose(got.rgb(), expect, rtol=2e-3, atol=2e-3)  # half-float EXR (HDR: relative)
        assert got.header.channels == ("R", "G", "B", "A", "depth.Z")
        assert got.header.attribute("recast/range") == "1001-1012"
        assert got.header.attribute("recast/chunks") == ", ".join(f"{p.chunk}:{p.weight(f):.3f}" for p in plans
                                                                 if p.weight(f) > 0)

    # a rerun of a finished chunk (a farm retry) rewrites nothing
    again = render(shot, reporter=Collect(), chunk=chunks[0], chunk_set="sub1")
    assert again.frames == [] and again.skipped == list(range(1001, 1007))
    assert {n: os.stat(out / n).st_mtime_ns for n in interior} == stamps


def test_assemble_says_what_is_missing(shot):
    with pytest.raises(SequenceError, match="no rendered chunks of this job"):
        assemble(shot, "nothing", Collect(), CancelFlag())
    render(shot, reporter=Collect(), chunk=FrameRange(1001, 1006), chunk_set="half")
    with pytest.raises(SequenceError, match=r"do not tile 1001-1012: frames 1007-1012 are in no chunk"):
        assemble(shot, "half", Collect(), CancelFlag())


def test_assemble_refuses_overlapping_chunks(shot):
    for name in ("1001-1006", "1005-1012"):  # two submissions' chunks under one set name
        os.makedirs(os.path.dirname(chunk_sequence(shot, "mixed", FrameRange.parse(name)).path(1001)))
    with pytest.raises(SequenceError, match=r"do not tile 1001-1012: frames 1005-1006 are in more than one chunk"):
        assemble(shot, "mixed", Collect(), CancelFlag())
    assert listing(os.path.dirname(shot.output_sequence.path(0))) == []


def test_bad_chunk_requests_are_one_line_and_write_nothing(tmp_path, job_file):
    job = job_file(input={"frames": "1001-1006"})
    cases = [(["--chunk", "1001-1003", "--frames", "1001-1003"], "give a chunk or a sub-range of frames, not both"),
             (["--chunk", "1001-1003", "--chunk-set", "no spaces!"], "chunk set 'no spaces!': use 1-64 letters"),
             (["--chunk", "1001-1003", "--server", tmp_path / "none.json"], "no Recast server at")]
    for args, message in cases:
        r = run_cli("render", "--job", job, *args)
        assert r.returncode == 1 and message in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert listing(tmp_path / "render") == []


def test_chunks_need_the_shot_range_and_stay_inside_it(tmp_path, plate):
    job = Job.from_dict(job_dict(), str(tmp_path))
    with pytest.raises(SequenceError, match="outside the job's range 1001-1006"):
        render(job, reporter=Collect(), chunk=FrameRange(1004, 1010))
    open_range = Job.from_dict(job_dict(input={"frames": None}), str(tmp_path))
    with pytest.raises(SequenceError, match="needs the job's 'input.frames'"):
        render(open_range, reporter=Collect(), chunk=FrameRange(1001, 1003))


def test_cli_chunks_through_one_server_that_loads_the_models_once(shot, tmp_path):
    job_path = tmp_path / "job.json"
    shot.save(str(job_path))
    conn = tmp_path / "session" / "recast-server.json"
    conn.parent.mkdir()
    started = run_cli("serve", "--connection-file", conn)
    assert started.returncode == 0, started.stderr
    info = json.loads(conn.read_text())  # loopback TCP and a token only this user can read: every OS has it
    assert info["host"] == "127.0.0.1" and len(info["token"]) == 64 and os.stat(conn).st_mode & 0o077 == 0
    import socket

    with socket.create_connection((info["host"], info["port"])) as intruder:  # a request without the token
        intruder.sendall((json.dumps({"token": "0" * 64, "stop": True}) + "\n").encode())
        assert json.loads(intruder.makefile().readline()) == {"event": "exit", "code": 1,
                                                              "error": "wrong or missing token"}
    try:
        seconds = []
        for chunk in ("1001-1006", "1007-1012"):
            t = time.monotonic()
            r = run_cli("render", "--job", job_path, "--chunk", chunk, "--chunk-set", "cli", "--server", conn)
            seconds.append(time.monotonic() - t)
            assert r.returncode == 0, r.stderr + r.stdout
            evs = events(r.stdout)
            assert [e["event"] for e in evs[:2]] == ["queued", "start"] and evs[-1]["event"] == "done"
        timing = [e for e in events(r.stdout) if e["event"] == "done"][0]["timing"]
        assert timing.get("load", 0) < 0.05  # the second chunk found the models loaded
        bad = run_cli("render", "--job", job_path, "--chunk", "1001-1020", "--server", conn)
        assert bad.returncode == 1 and "outside the job's range" in bad.stderr
        assert events(bad.stdout)[-1]["event"] == "error"
    finally:
        stopped = run_cli("serve", "--stop", "--connection-file", conn)
    assert stopped.returncode == 0 and "after 2 render(s)" in stopped.stderr and not conn.exists()
    a = run_cli("assemble", "--job", job_path, "--chunk-set", "cli")
    assert a.returncode == 0, a.stderr
    assert listing(tmp_path / "render") == [f"sh010_recast.{f}.exr" for f in SHOT]
    assert all(read_header(str(tmp_path / "render" / f"sh010_recast.{f}.exr")).attribute("recast/fingerprint")
               == shot.fingerprint() for f in SHOT)
    assert json.loads(a.stdout.splitlines()[-1])["frames"] == 4  # 1005-1008 around the one boundary


def test_a_server_whose_session_vanished_stops_by_itself(tmp_path):
    conn = tmp_path / "session" / "recast-server.json"
    conn.parent.mkdir()
    assert run_cli("serve", "--connection-file", conn).returncode == 0
    pid = json.loads(conn.read_text())["pid"]
    conn.unlink()  # OpenJD removed the session's working folder without running onExit
    def running(pid):  # a zombie (exited, not yet reaped by whoever adopted it) has stopped too
        try:
            with open(f"/proc/{pid}/stat") as fh:
                return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
        except FileNotFoundError:
            return False

    for _ in range(100):
        if not running(pid):
            break
        time.sleep(0.1)
    else:
        pytest.fail("the orphaned server is still running")
