"""The artist's loop: the desk service (queue, cancel, two clients, a killed service, stale files, wrong tokens,
idle stop), live previews while denoising, preview renders and variants as new versions with their job files."""

import json
import os
import signal
import subprocess
import threading
import time

import numpy as np
import pytest

from tests.conftest import RECAST, events, job_dict, listing, run_cli, run_cli_process

pytestmark = pytest.mark.usefixtures("recast_cache")


@pytest.fixture
def desk(tmp_path, monkeypatch):
    """A private desk folder (RECAST_DESK) for this test; whatever service it started is stopped after."""
    folder = tmp_path / "desk"
    monkeypatch.setenv("RECAST_DESK", str(folder))
    yield folder
    conn = folder / "desk.json"
    if conn.exists():
        try:
            pid = json.loads(conn.read_text())["pid"]
            os.kill(pid, signal.SIGKILL)
        except (OSError, ValueError, KeyError):
            pass


def _shot(tmp_path, frames=6, **overrides) -> str:
    from recast.core.shot.synthetic import write_synthetic_plate

    write_synthetic_plate(str(tmp_path / "plate" / "sh010.####.exr"), 1001, frames, width=64, height=40)
    path = tmp_path / overrides.pop("name", "job.json")
    path.write_text(json.dumps(job_dict(input={"frames": f"1001-{1000 + frames}"}, **overrides)))
    return str(path)


def _pixels(path) -> np.ndarray:
    import OpenImageIO as oiio

    return oiio.ImageBuf(str(path)).get_pixels(oiio.FLOAT)


def _client(*args) -> subprocess.Popen:
    return subprocess.Popen(RECAST + [str(a) for a in args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})


def _until(client, test) -> dict:
    """Read the client's events until one passes ``test``; returns it."""
    for line in client.stdout:
        event = json.loads(line)
        if test(event):
            return event
    pytest.fail(f"the client ended first: {client.stderr.read()}")


def test_desk_renders_like_a_local_render_and_keeps_the_models(tmp_path, desk):
    job = _shot(tmp_path)
    local = run_cli("render", "--job", job, "--output", tmp_path / "local" / "sh010.####.exr", "--json")
    assert local.returncode == 0, local.stderr
    first = run_cli_process("render", "--job", job, "--desk", "--json")
    assert first.returncode == 0, first.stderr
    seen = events(first.stdout)
    assert seen[0]["event"] == "desk" and seen[0]["started"] and seen[1]["event"] == "queued"
    assert [e["event"] for e in seen[2:]][:1] == ["start"] and seen[-1]["event"] == "done"
    for f in range(1001, 1007):  # the same frames as a render in this process
        assert np.array_equal(_pixels(tmp_path / "render" / f"sh010_recast.{f}.exr"),
                              _pixels(tmp_path / "local" / f"sh010.{f}.exr")), f
    again = run_cli_process("render", "--job", job, "--desk", "--seed", "7", "--json")
    done = events(again.stdout)[-1]
    assert again.returncode == 0 and done["timing"]["load"] < 0.5, done  # the stack stayed loaded
    status = run_cli("desk", "status", "--json")
    state = json.loads(status.stdout)
    assert state["running"] and state["served"] == 2 and state["loaded"]["model"] == "tiny"
    stop = run_cli("desk", "stop")
    assert stop.returncode == 0 and "stopped after 2 render(s)" in stop.stdout
    assert json.loads(run_cli("desk", "status", "--json").stdout) == {"running": False}


@pytest.mark.slow  # the default run stays within 10 minutes; CI runs the slow tier too
def test_the_queue_runs_previews_first_and_cancels_waiting_and_running_requests(tmp_path, desk):
    long = _shot(tmp_path, 16, steps=200, name="long.json")  # minutes: still running when it is cancelled
    other = tmp_path / "other.json"
    other.write_text(json.dumps(job_dict(input={"frames": "1001-1004"}, output={"pattern": "b/sh010.####.exr"})))
    assert run_cli("desk", "start").returncode == 0
    a = _client("render", "--job", long, "--desk", "--json")
    _until(a, lambda e: e["event"] == "progress" and e["stage"] == "denoise")
    b = _client("render", "--job", other, "--desk", "--json")
    b_id = _until(b, lambda e: e["event"] == "queued")["id"]
    c = _client("render", "--job", other, "--desk", "--preview", "--json")
    _until(c, lambda e: e["event"] == "queued")
    for _ in range(50):  # both are in the queue once their clients have their 'queued' events
        state = json.loads(run_cli("desk", "status", "--json").stdout)
        if len(state.get("queued") or ()) == 2:
            break
        time.sleep(0.1)
    assert [q["preview"] for q in state["queued"]] == [True, False], state  # the preview goes ahead of the render
    assert state["current"]["progress"]["stage"] in ("denoise", "depth", "load", "encode")
    assert run_cli("desk", "cancel", b_id).returncode == 0  # a waiting request
    assert b.wait(timeout=60) == 143 and "while waiting in the queue" in b.stderr.read()
    a_id = state["current"]["id"]
    assert run_cli("desk", "cancel", a_id).returncode == 0  # the running one
    assert a.wait(timeout=120) == 143 and "cancelled" in a.stderr.read()
    assert c.wait(timeout=120) == 0, c.stderr.read()  # the preview then ran
    assert listing(tmp_path / "b") == ["recast_previews"]  # neither the cancelled render nor the preview wrote there
    assert os.listdir(tmp_path / "b" / "recast_previews") == ["v001"]
    nope = run_cli("desk", "cancel", "nosuchid")
    assert nope.returncode == 1 and "no request 'nosuchid'" in nope.stderr and len(nope.stderr.splitlines()) == 1


def test_two_clients_at_once_both_get_every_frame(tmp_path, desk):
    job = _shot(tmp_path)
    other = tmp_path / "other.json"
    other.write_text(json.dumps(job_dict(prompt="bronze", output={"pattern": "two/sh010.####.exr"})))
    clients = [_client("render", "--job", j, "--desk", "--json") for j in (job, other)]
    outs = [c.communicate(timeout=300) for c in clients]
    assert [c.returncode for c in clients] == [0, 0], [o[1] for o in outs]
    assert listing(tmp_path / "render") == [f"sh010_recast.{f}.exr" for f in range(1001, 1007)]
    assert listing(tmp_path / "two") == [f"sh010.{f}.exr" for f in range(1001, 1007)]
    # one service served both (the second found the first's, or waited for it to start)
    assert json.loads(run_cli("desk", "status", "--json").stdout)["served"] == 2


@pytest.mark.slow  # the default run stays within 10 minutes; CI runs the slow tier too
def test_a_killed_service_is_one_line_and_the_next_request_resumes_to_the_same_frames(tmp_path, desk):
    job = _shot(tmp_path, 12, steps=6, window={"length": 4, "overlap": 1})
    reference = run_cli("render", "--job", job, "--output", tmp_path / "ref" / "sh010.####.exr", "--json")
    assert reference.returncode == 0, reference.stderr
    host = _client("render", "--job", job, "--desk", "--json", "--control", "stdin")
    _until(host, lambda e: e["event"] == "progress" and e["stage"] == "denoise" and e.get("step", 0) >= 3)
    pid = json.loads((desk / "desk.json").read_text())["pid"]
    os.kill(pid, signal.SIGKILL)
    host.stdin.close()
    assert host.wait(timeout=60) == 1
    err = host.stderr.read().strip().splitlines()
    assert len(err) == 1 and "went away mid-render" in err[0] and "resume" in err[0], err
    again = run_cli_process("render", "--job", job, "--desk", "--json")
    assert again.returncode == 0, again.stderr
    seen = events(again.stdout)
    assert seen[0]["event"] == "desk" and seen[0]["pid"] != pid  # a new service
    assert seen[-1]["resumed_from_step"] >= 2  # from the killed one's saved state
    for f in range(1001, 1013):
        assert np.array_equal(_pixels(tmp_path / "render" / f"sh010_recast.{f}.exr"),
                              _pixels(tmp_path / "ref" / f"sh010.{f}.exr")), f


def test_a_host_that_crashes_leaves_its_render_going_and_reattaches_by_id(tmp_path, desk):
    job = _shot(tmp_path, 8, steps=4)
    host = _client("render", "--job", job, "--desk", "--json", "--control", "stdin")
    rid = _until(host, lambda e: e["event"] == "queued")["id"]
    _until(host, lambda e: e["event"] == "start")
    host.kill()  # the host crashed: its worker client died with it
    host.wait()
    again = run_cli_process("desk", "attach", rid, "--json")
    assert again.returncode == 0, again.stderr
    seen = events(again.stdout)
    assert seen[0] == {"event": "queued", "id": rid, "ahead": 0} and seen[-1]["event"] == "done"
    assert [e["frame"] for e in seen if e["event"] == "frame"] == list(range(1001, 1009))
    gone = run_cli("desk", "attach", "nosuchid")
    assert gone.returncode == 1 and len(gone.stderr.splitlines()) == 1


def test_stale_files_wrong_tokens_other_users_and_idle_stop(tmp_path, desk):
    job = _shot(tmp_path, 4)
    desk.mkdir(mode=0o700)
    (desk / "desk.json").write_text(json.dumps({"host": "127.0.0.1", "port": 9, "token": "0" * 64, "pid": 1}))
    r = run_cli_process("render", "--job", job, "--desk", "--json")  # a stale file: a new service replaces it
    assert r.returncode == 0 and events(r.stdout)[0]["event"] == "desk", r.stderr
    info = json.loads((desk / "desk.json").read_text())
    import socket

    with socket.create_connection((info["host"], info["port"]), timeout=10) as s:  # a wrong token
        s.sendall(b'{"token": "' + b"1" * 64 + b'", "status": true}\n')
        answer = [json.loads(line) for line in s.makefile("rb")]
    assert answer == [{"event": "exit", "code": 1, "error": "wrong or missing token"}]
    assert run_cli("desk", "stop").returncode == 0
    start = run_cli("desk", "start", "--idle", "1", "--json")
    pid = json.loads(start.stdout)["pid"]
    for _ in range(100):  # it stops by itself, and says so in its status
        if json.loads(run_cli("desk", "status", "--json").stdout) == {"running": False}:
            break
        time.sleep(0.1)
    else:
        pytest.fail(f"desk service {pid} did not stop when idle")
    os.chown(desk, 12345, 12345)  # a desk folder of another account
    try:
        for args in (("desk", "start"), ("desk", "status")):
            r = run_cli(*args)
            assert r.returncode == 1 and "belongs to another user (uid 12345)" in r.stderr, r.stderr
            assert len(r.stderr.splitlines()) == 1 and not (desk / "desk.json").exists()
        r = run_cli("render", "--job", job, "--output", tmp_path / "fb" / "sh010.####.exr", "--desk", "--json")
        seen = events(r.stdout)  # the render falls back to this process, with one line saying why
        assert r.returncode == 0 and seen[0]["event"] == "warning" and "rendering here instead" in seen[0]["message"]
    finally:
        os.chown(desk, os.getuid(), os.getgid())


def test_live_previews_arrive_before_the_first_window_is_done(tmp_path):
    job = _shot(tmp_path, 8, steps=3)
    r = run_cli("render", "--job", job, "--live-previews", "--json")
    assert r.returncode == 0, r.stderr
    seen = events(r.stdout)
    kinds = [e["event"] for e in seen]
    first_preview = kinds.index("preview")
    first_window_done = next(i for i, e in enumerate(seen) if e["event"] == "progress" and e["stage"] == "denoise")
    assert first_preview < first_window_done  # the window's frames, after its first step
    previews = [e for e in seen if e["event"] == "preview"]
    assert {e["frame"] for e in previews} == set(range(1001, 1009)) and {e["step"] for e in previews} == {1, 2, 3}
    import OpenImageIO as oiio

    last = oiio.ImageBuf(previews[-1]["path"])
    assert (last.spec().width, last.spec().height, last.spec().nchannels) == (32, 20, 3)  # 4× the 8×5 latents
    assert "recast_cache" in previews[-1]["path"] and listing(tmp_path / "render") == [
        f"sh010_recast.{f}.exr" for f in range(1001, 1009)]  # none among the frames


def test_previews_are_new_versions_beside_never_over_the_render(tmp_path):
    job = _shot(tmp_path, 6, window={"length": 4, "overlap": 1})
    for n in (1, 2):
        r = run_cli("render", "--job", job, "--preview", "--json")
        assert r.returncode == 0, r.stderr
        version = events(r.stdout)[0]
        folder = tmp_path / "render" / "recast_previews" / f"v{n:03d}"
        assert version == {"event": "version", "kind": "preview", "version": n, "job": str(folder / "job.json"),
                           "output": str(folder / "sh010_recast.####.exr")}
        assert listing(folder) == ["job.json"] + [f"sh010_recast.{f}.exr" for f in range(1001, 1005)]  # 1st window
        made = json.loads((folder / "job.json").read_text())
        assert made["model"] == "tiny-fast" and made["input"]["frames"] == "1001-1004" and made["steps"] is None
    assert listing(tmp_path / "render") == ["recast_previews"]
    bad = run_cli("render", "--job", job, "--preview", "--frames", "1001-1020")  # a preview of a missing range
    assert bad.returncode == 1 and len(bad.stderr.strip().splitlines()) == 1, bad.stderr
    assert sorted(os.listdir(tmp_path / "render" / "recast_previews")) == ["v001", "v002"]


def test_variants_are_versions_whose_jobs_render_the_same_frames(tmp_path):
    job = _shot(tmp_path, 4)
    r = run_cli("variants", "--job", job, "--prompt", "chalk", "--prompt", "bronze", "--seed", "3", "--json")
    assert r.returncode == 0, r.stderr
    seen = events(r.stdout)
    announced = [e for e in seen if e["event"] == "variant"]
    root = tmp_path / "render" / "recast_variants"
    assert [(e["version"], e["values"]) for e in announced] == [(1, {"prompt": "chalk", "seed": 3}),
                                                                (2, {"prompt": "bronze", "seed": 3})]
    loads = [e["timing"]["load"] for e in seen if e["event"] == "done"]
    assert len(loads) == 2 and loads[1] < 0.5  # one stack for both
    for e in announced:
        made = json.loads(open(e["job"]).read())
        assert made["prompt"] == e["values"]["prompt"] and made["seed"] == 3
        again = run_cli("render", "--job", e["job"], "--output", tmp_path / "again" / f"v{e['version']}.####.exr")
        assert again.returncode == 0, again.stderr
        for f in range(1001, 1005):  # promoting a variant is rendering its job: the same frames
            assert np.array_equal(_pixels(root / f"v{e['version']:03d}" / f"sh010_recast.{f}.exr"),
                                  _pixels(tmp_path / "again" / f"v{e['version']}.{f}.exr"))
    assert not np.array_equal(_pixels(root / "v001" / "sh010_recast.1001.exr"),
                              _pixels(root / "v002" / "sh010_recast.1001.exr"))


@pytest.mark.parametrize("args, message", [
    (("--vary", "colour=red"), "'colour' is not a variant axis"),
    ((), "no variant values given"),
    (tuple(a for s in range(200) for a in ("--seed", str(s))), "200 variants asked for"),
    (("--reference", "nosuch.png", "--prompt", "x"), "is not a file"),
])
def test_bad_variants_are_one_line_and_write_nothing(tmp_path, args, message):
    job = _shot(tmp_path, 4)
    r = run_cli("variants", "--job", job, *args)
    assert r.returncode == 1 and message in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert not (tmp_path / "render").exists()


def test_a_path_map_rewrites_what_a_client_sends_and_is_told(tmp_path, desk):
    """A desk on shared storage that another machine mounts elsewhere: the client's paths go out as the
    service's and come back as the client's. Here the 'client mount' is a symlink to the real folder."""
    from recast.core.farm.path_map import map_paths, parse_path_map

    pairs = parse_path_map(["/Volumes/show=/mnt/show", "/Volumes/show/sh010=/mnt/sh010"])
    assert pairs[0] == ["/Volumes/show/sh010", "/mnt/sh010"]  # the longest prefix first
    assert map_paths({"a": ["/Volumes/show/x.exr", "/Volumes/showreel/y.exr", 3]}, pairs) == {
        "a": ["/mnt/show/x.exr", "/Volumes/showreel/y.exr", 3]}
    assert map_paths("/mnt/sh010/f.exr", pairs, reverse=True) == "/Volumes/show/sh010/f.exr"
    for bad in ("nomap", "relative=/mnt", "/a="):
        r = run_cli("desk", "start", "--path-map", bad)
        assert r.returncode == 1 and "--path-map" in r.stderr and len(r.stderr.splitlines()) == 1, r.stderr
    server_side = tmp_path / "server_side"
    job = _shot(server_side, 4)
    client_side = tmp_path / "client_side"
    os.symlink(server_side, client_side)  # the same storage, another mount point
    start = run_cli("desk", "start", "--path-map", f"{client_side}={server_side}", "--json")
    assert start.returncode == 0, start.stderr
    r = run_cli_process("render", "--job", client_side / "job.json", "--desk", "--json")
    assert r.returncode == 0, r.stderr
    frames = [e["path"] for e in events(r.stdout) if e["event"] == "frame"]
    assert frames == [str(client_side / "render" / f"sh010_recast.{f}.exr") for f in range(1001, 1005)]
    log = open(desk / "desk.json.log").read()
    assert str(server_side / "render") in log and str(client_side) not in log  # the service saw its own paths


@pytest.mark.slow  # ~20 s (the service starts and loads): the default run stays within 10 minutes
def test_a_cut_renders_through_the_desk_shot_by_shot_and_conforms(tmp_path, desk):
    """``recast cut --desk``: every shot a request to the one warm service; a shot that fails there is reported and
    the next goes on; the conformed timeline is on the renders."""
    otio = pytest.importorskip("opentimelineio")
    from recast.core.shot.synthetic import write_synthetic_plate

    rt, tr = otio.opentime.RationalTime, otio.opentime.TimeRange
    for name in ("a", "b"):
        write_synthetic_plate(str(tmp_path / "plates" / f"{name}.####.exr"), 1001, 4, width=64, height=40)
    (tmp_path / "plates" / "b.1003.exr").write_bytes(b"not an exr")  # on disk, but the render refuses it
    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    for clip, plate, first in (("sh010", "a", 1001), ("sh020", "b", 1002), ("sh030", "a", 1003)):
        track.append(otio.schema.Clip(clip, media_reference=otio.schema.ExternalReference(
            target_url=str(tmp_path / "plates" / f"{plate}.####.exr")), source_range=tr(rt(first, 24), rt(2, 24))))
    timeline = otio.schema.Timeline(name="desk_cut")
    timeline.tracks.append(track)
    otio.adapters.write_to_file(timeline, str(tmp_path / "reel.otio"))
    template = tmp_path / "template.json"
    template.write_text(json.dumps(job_dict(input={"frames": None}, steps=1)))
    r = run_cli_process("cut", "--timeline", tmp_path / "reel.otio", "--job", template, "--handles", "0", "--desk",
                        "--json")
    seen = events(r.stdout)
    assert [e["event"] for e in seen[:2]] == ["plan", "desk"] and seen[1]["started"], seen[:2]
    assert r.returncode == 1 and r.stderr.startswith("recast: error: shot 'sh020': ")
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert [(e["name"], e["status"]) for e in seen if e["event"] == "shot" and e["status"] != "rendering"] == [
        ("sh010", "done"), ("sh020", "failed"), ("sh030", "done")]
    done = seen[-1]
    assert done["event"] == "done" and done["rendered"] == 2 and done["frames"] == 4
    out = tmp_path / "reel_recast"
    assert listing(out / "sh010" / "v001") == ["sh010.json", "sh010_recast.1001.exr", "sh010_recast.1002.exr"]
    assert listing(out / "sh030" / "v001") == ["sh030.json", "sh030_recast.1003.exr", "sh030_recast.1004.exr"]
    clips = {c.name: c for c in otio.adapters.read_from_file(done["timeline"]).find_clips()}
    assert "/sh030/v001" in clips["sh030"].media_reference.target_url_base
    assert clips["sh020"].markers[-1].metadata["recast_cut"]["status"] == "failed"
    state = json.loads(run_cli("desk", "status", "--json").stdout)
    # one warm service rendered both good shots (a render that failed is not counted as served)
    assert state["running"] and state["served"] == 2 and state["loaded"]["model"] == "tiny"
