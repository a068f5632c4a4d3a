"""``recast cut``: an editorial timeline rendered shot by shot and conformed back (issue 30).

The timelines are built with OpenTimelineIO's API over plates generated here (64x40, a few frames); the shots
render with the tiny preset in this process.
"""

from __future__ import annotations

import json
import os

import pytest

from conftest import events, job_dict, run_cli
from recast.core.shot.synthetic import write_synthetic_plate

otio = pytest.importorskip("opentimelineio")
RT, TR = otio.opentime.RationalTime, otio.opentime.TimeRange


def _range(start, count, rate=24):
    return TR(RT(start, rate), RT(count, rate))


def _isr(folder, prefix, first, count, rate=24):
    """An ImageSequenceReference to ``folder/prefix####.exr`` frames first..first+count-1 (media time = frame)."""
    return otio.schema.ImageSequenceReference(
        target_url_base=otio.url_utils.url_from_filepath(str(folder) + os.sep), name_prefix=prefix,
        name_suffix=".exr", start_frame=first, rate=rate, frame_zero_padding=4,
        available_range=_range(first, count, rate))


@pytest.fixture(scope="module")
def cut(tmp_path_factory):
    """A cut of plates: (timeline path, template job path, the folder)."""
    root = tmp_path_factory.mktemp("cut")
    write_synthetic_plate(str(root / "plates" / "a" / "a.####.exr"), 1001, 8, width=64, height=40)
    write_synthetic_plate(str(root / "plates" / "b" / "b.####.exr"), 1001, 6, width=64, height=40)
    write_synthetic_plate(str(root / "plates" / "c" / "c.####.exr"), 1001, 6, width=64, height=40)
    write_synthetic_plate(str(root / "plates" / "d" / "d.####.exr"), 1001, 4, width=64, height=40)
    (root / "plates" / "d" / "d.1002.exr").write_bytes(b"not an exr")  # on disk, but the render refuses it
    plates = root / "plates"
    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    # sh010: trimmed to 1003-1004 of 1001-1008, its own prompt and seed
    sh010 = otio.schema.Clip("sh010", media_reference=_isr(plates / "a", "a.", 1001, 8),
                             source_range=_range(1003, 2), metadata={"recast": {"prompt": "a neon alley", "seed": 7}})
    # sh020: an ExternalReference to a pattern, near the end of its media (its tail handle is short)
    sh020 = otio.schema.Clip("sh020", media_reference=otio.schema.ExternalReference(
        target_url=str(plates / "b" / "b.####.exr")), source_range=_range(1004, 2))
    # sh030: after a one-frame transition (it shows one frame more at its head), a structure level from a marker
    sh030 = otio.schema.Clip("sh030", media_reference=_isr(plates / "c", "c.", 1001, 6), source_range=_range(1002, 2))
    sh030.markers.append(otio.schema.Marker(name="look", marked_range=_range(1002, 0),
                                            metadata={"recast": {"structure_level": 5}}))
    # sh040: a 2x linear time warp over plate a
    sh040 = otio.schema.Clip("sh040", media_reference=_isr(plates / "a", "a.", 1001, 8), source_range=_range(1001, 2))
    sh040.effects.append(otio.schema.LinearTimeWarp(time_scalar=2.0))
    nomedia = otio.schema.Clip("nomedia", source_range=_range(0, 3))
    movie = otio.schema.Clip("movie", media_reference=otio.schema.ExternalReference(target_url="/tmp/shot.mov"),
                             source_range=_range(0, 3))
    broken = otio.schema.Clip("sh050", media_reference=_isr(plates / "d", "d.", 1001, 4), source_range=_range(1002, 2))
    nested = otio.schema.Stack(name="nested")
    track.extend([sh010, otio.schema.Gap(source_range=_range(0, 2)), sh020,
                  otio.schema.Transition(in_offset=RT(1, 24), out_offset=RT(1, 24)), sh030, sh040, broken, nomedia, movie,
                  nested])
    timeline = otio.schema.Timeline(name="reel1")
    timeline.tracks.append(track)
    path = str(root / "reel1.otio")
    otio.adapters.write_to_file(timeline, path)
    template = job_dict(input={"pattern": "plates/a/a.####.exr", "frames": None, "depth_channel": "depth.Z"},
                        prompt="a watercolour town", steps=1)
    (root / "template.json").write_text(json.dumps(template))
    return path, str(root / "template.json"), root


def _structure(timeline):
    return [[(type(i).__name__, i.name, str(i.range_in_parent()) if not isinstance(i, otio.schema.Transition)
              else (str(i.in_offset), str(i.out_offset))) for i in t] for t in timeline.tracks]


def test_cut_renders_every_shot_and_conforms(cut):
    path, template, root = cut
    r = run_cli("cut", "--timeline", path, "--job", template, "--handles", "1", "--export", "edl", "--export",
                "fcp_xml", "--json")
    ev = events(r.stdout)
    done = ev[-1]
    # a shot that fails (a damaged plate frame) is reported; the others render
    assert r.returncode == 1 and r.stderr.startswith("recast: error: shot 'sh050': "), r.stderr
    assert done["event"] == "done" and done["rendered"] == 4 and len(done["failed"]) == 1
    warnings = [e["message"] for e in ev if e["event"] == "warning"]
    # short handles: sh020 at its tail, sh030 (transition) and sh040 at their heads
    assert any("'sh020'" in w and "tail" in w for w in warnings), warnings
    assert any("'sh030'" in w and "head" in w for w in warnings), warnings
    # a clip with no media, a movie file and a nested stack: one line each, the others rendered
    assert [s.split(":")[0] for s in done["not_rendered"]] == ["clip 'nomedia'", "clip 'movie'", "clip 'nested'"]
    assert "movie file" in done["not_rendered"][1] or "not a frame sequence" in done["not_rendered"][1]
    shots = [e for e in ev if e["event"] == "shot"]
    assert [(e["name"], e["status"]) for e in shots if e["status"] != "rendering"] == [
        ("sh010", "done"), ("sh020", "done"), ("sh030", "done"), ("sh040", "done"), ("sh050", "failed")]
    assert all(e["count"] == 5 for e in shots)
    cut_done = [e["cut_done"] for e in ev if e["event"] == "progress" and "cut_done" in e]
    assert cut_done == sorted(cut_done) and 0 < cut_done[-1] <= 1  # one progress for the whole cut
    assert [os.path.splitext(p)[1] for p in done["exports"]] == [".edl", ".xml"]
    assert all(os.path.isfile(p) for p in done["exports"])

    before, after = otio.adapters.read_from_file(path), otio.adapters.read_from_file(done["timeline"])
    assert os.path.dirname(done["timeline"]) == str(root / "reel1_recast")
    assert _structure(after) == _structure(before)  # same tracks, items and record timing
    clips = {c.name: c for c in after.find_clips()}
    want = {"sh010": ((1003, 1004), (1002, 1005)), "sh020": ((1004, 1006), (1003, 1006)),
            "sh030": ((1001, 1003), (1001, 1004)), "sh040": ((1001, 1003), (1001, 1004))}
    for name, (shows, rendered) in want.items():
        ref = clips[name].media_reference
        assert isinstance(ref, otio.schema.ImageSequenceReference), name
        assert (ref.start_frame, ref.end_frame()) == rendered, name
        shown = clips[name].visible_range()
        assert ref.frame_for_time(shown.start_time) == shows[0], name
        for f in range(rendered[0], rendered[1] + 1):  # the clip's frames and its handles, on disk
            assert os.path.isfile(otio.url_utils.filepath_from_url(ref.target_url_for_image_number(f - rendered[0])))
    assert clips["sh040"].effects[0].time_scalar == 2.0  # the retime stays on the clip
    for name in ("nomedia", "movie"):
        assert clips[name].markers[-1].metadata["recast_cut"]["status"] == "skipped"
    assert clips["sh050"].markers[-1].metadata["recast_cut"]["status"] == "failed"  # kept on its plate
    assert clips["sh050"].media_reference.name_prefix == "d."

    from recast.core.io.exrio import read_header

    def job_of(name):
        ref = clips[name].media_reference
        h = read_header(otio.url_utils.filepath_from_url(ref.target_url_for_image_number(0)))
        return json.loads(h.attribute("recast/job"))

    assert (job_of("sh010")["prompt"], job_of("sh010")["seed"]) == ("a neon alley", 7)
    assert (job_of("sh020")["prompt"], job_of("sh020")["seed"]) == ("a watercolour town", 1234)
    assert job_of("sh030")["structure_level"] == 5 and job_of("sh020")["structure_level"] == 2

    # every shot renders into its first version folder
    assert done["versions"] == {"sh010": 1, "sh020": 1, "sh030": 1, "sh040": 1, "sh050": 1}
    first_frame = clips["sh010"].media_reference.target_url_for_image_number(0)
    assert otio.url_utils.filepath_from_url(first_frame) == str(root / "reel1_recast" / "sh010" / "v001" /
                                                                "sh010_recast.1002.exr")
    first_timeline = open(done["timeline"]).read()
    stamps = {p: os.stat(p).st_mtime_ns for p in _renders(root / "reel1_recast")}

    # a re-run renders nothing new: no frame written, no new version, the same conformed timeline
    again = events(run_cli("cut", "--timeline", path, "--job", template, "--handles", "1", "--json").stdout)
    assert again[-1]["event"] == "done" and again[-1]["frames"] == 0 and again[-1]["rendered"] == 4
    assert again[-1]["versions"] == done["versions"]
    assert all(e.get("skipped") for e in again if e["event"] == "frame")
    assert open(again[-1]["timeline"]).read() == first_timeline
    assert {p: os.stat(p).st_mtime_ns for p in _renders(root / "reel1_recast")} == stamps
    # one shot's prompt changed in a sidecar: that shot renders a new version beside the old one; the others are
    # untouched
    sidecar = root / "look.csv"
    sidecar.write_text("shot,prompt\nsh020,a paper forest\n")
    third = events(run_cli("cut", "--timeline", path, "--job", template, "--handles", "1", "--overrides", sidecar,
                           "--json").stdout)
    assert third[-1]["frames"] == 4 and third[-1]["versions"] == {**done["versions"], "sh020": 2}
    assert {e["shot"] for e in third if e["event"] == "frame" and not e.get("skipped")} == {"sh020"}
    renders = _renders(root / "reel1_recast")
    assert {p: os.stat(p).st_mtime_ns for p in stamps} == stamps  # v001 of every shot kept as it was
    assert sorted(os.path.relpath(p, root / "reel1_recast") for p in set(renders) - set(stamps)) == [
        f"sh020/v002/sh020_recast.{f}.exr" for f in range(1003, 1007)]
    newest = {c.name: c for c in otio.adapters.read_from_file(third[-1]["timeline"]).find_clips()}
    for name in ("sh010", "sh020"):  # the conformed timeline is on each shot's newest version
        url = newest[name].media_reference.target_url_base
        assert url.rstrip("/").endswith(f"/{name}/v00{1 + (name == 'sh020')}"), url
    assert _structure(otio.adapters.read_from_file(third[-1]["timeline"])) == _structure(before)


def _renders(folder):
    """Every rendered EXR under the cut's folder (the shots' versions), as paths."""
    return sorted(os.path.join(d, n) for d, _, names in os.walk(folder) for n in names
                  if n.endswith(".exr") and "recast_cache" not in d)


def test_plan_only_writes_jobs_with_sidecar_overrides(cut, tmp_path):
    path, template, _ = cut
    sidecar = tmp_path / "shots.csv"
    sidecar.write_text("shot,prompt,steps\nsh020,a paper forest,3\n")
    out = tmp_path / "plan"
    r = run_cli("cut", "--timeline", path, "--job", template, "--out", out, "--handles", "1", "--overrides",
                sidecar, "--plan-only", "--json")
    assert r.returncode == 0, r.stderr
    done = events(r.stdout)[-1]
    assert done["timeline"] is None and len(done["jobs"]) == 5
    jobs = {os.path.basename(p)[:-5]: json.loads(open(p).read()) for p in done["jobs"]}
    assert (jobs["sh020"]["prompt"], jobs["sh020"]["steps"]) == ("a paper forest", 3)
    assert jobs["sh010"]["prompt"] == "a neon alley"  # the clip's metadata wins over the template
    assert jobs["sh010"]["input"]["frames"] == "1002-1005"
    assert not _renders(out)  # nothing rendered
    assert all(os.path.dirname(p) == os.path.join(out, n, "v001") for n, p in zip(jobs, done["jobs"]))
    # the cut's folder is what `recast farm ... --cut` reads: every shot, in cut order, with its job and frames
    from recast.core.cut import read_manifest
    from recast.core.errors import TimelineError

    shots = read_manifest(str(out))
    assert [s.job for s in shots] == [os.path.abspath(p) for p in done["jobs"]]
    assert [s.index for s in shots] == sorted(s.index for s in shots)
    assert shots[0].frames == (1002, 1005) and shots[0].name == "sh010"
    os.unlink(shots[1].job)
    with pytest.raises(TimelineError, match="job file .* is missing"):
        read_manifest(str(out))
    with pytest.raises(TimelineError, match="not a planned cut"):
        read_manifest(str(tmp_path))


EDL = """TITLE: reel2
FCM: NON-DROP FRAME

001  a        V     C        00:00:41:18 00:00:41:21 01:00:00:00 01:00:00:03
* FROM CLIP NAME: a

002  lost     V     C        00:00:41:17 00:00:41:19 01:00:00:03 01:00:00:05
* FROM CLIP NAME: lost
"""


def test_edl_finds_media_by_name_under_media_root(cut, tmp_path):
    _, template, root = cut
    edl = tmp_path / "reel2.edl"
    edl.write_text(EDL)
    r = run_cli("cut", "--timeline", edl, "--job", template, "--media-root", root / "plates", "--handles", "1",
                "--plan-only", "--json")
    assert r.returncode == 0, r.stderr
    ev = events(r.stdout)
    plan = next(e for e in ev if e["event"] == "plan")
    assert [(s["name"], s["shows"], s["frames"]) for s in plan["shots"]] == [("a", "1002-1004", "1001-1005")]
    assert plan["skipped"][0]["name"] == "lost" and "no media" in plan["skipped"][0]["reason"]


FCP_XML = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE xmeml>
<xmeml version="4">
  <sequence id="seq1">
    <name>reel3</name>
    <duration>3</duration>
    <rate><timebase>24</timebase><ntsc>FALSE</ntsc></rate>
    <media>
      <video>
        <track>
          <clipitem id="clip1">
            <name>a</name>
            <duration>8</duration>
            <rate><timebase>24</timebase><ntsc>FALSE</ntsc></rate>
            <start>0</start><end>3</end><in>1</in><out>4</out>
            <file id="file1">
              <name>a</name>
              <pathurl>{url}</pathurl>
              <rate><timebase>24</timebase><ntsc>FALSE</ntsc></rate>
              <duration>8</duration>
            </file>
          </clipitem>
        </track>
      </video>
    </media>
  </sequence>
</xmeml>
"""


def test_fcp_xml_reads_through_the_adapter(cut, tmp_path):
    """FCP counts a file's frames from 0 (in=1: its second frame, 1002 of a plate 1001-1008)."""
    _, template, root = cut
    xml = tmp_path / "reel3.xml"
    xml.write_text(FCP_XML.format(url=otio.url_utils.url_from_filepath(str(root / "plates" / "a" / "a.%04d.exr"))))
    r = run_cli("cut", "--timeline", xml, "--job", template, "--handles", "1", "--plan-only", "--json")
    assert r.returncode == 0, r.stderr
    plan = next(e for e in events(r.stdout) if e["event"] == "plan")
    assert [(s["name"], s["shows"], s["frames"]) for s in plan["shots"]] == [("a", "1002-1004", "1001-1005")]


def test_bad_input_is_one_line_and_writes_nothing(cut, tmp_path):
    path, template, root = cut
    out = tmp_path / "out"
    bad = tmp_path / "bad.otio"
    bad.write_text("{ not json")
    notjob = tmp_path / "notjob.json"
    notjob.write_text('{"hello": 1}')
    missing = otio.schema.Timeline()
    missing.tracks.append(otio.schema.Track(children=[
        otio.schema.Clip("gone", media_reference=_isr(tmp_path / "nowhere", "x.", 1001, 4),
                         source_range=_range(1001, 2))]))
    gone = tmp_path / "gone.otio"
    otio.adapters.write_to_file(missing, str(gone))
    for args, words in (((bad, template), "cannot be read"), ((tmp_path / "none.otio", template), "does not exist"),
                        ((path, notjob), "unknown field 'hello'"), ((gone, template), "clip 'gone'")):
        r = run_cli("cut", "--timeline", args[0], "--job", args[1], "--out", out, "--json")
        lines = r.stderr.strip().splitlines()
        assert r.returncode == 1 and len(lines) == 1 and words in lines[0], r.stderr
        assert not out.exists()
    r = run_cli("cut", "--timeline", path, "--job", template, "--out", out, "--track", "V9", "--json")
    assert r.returncode == 1 and "no video track named 'V9'" in r.stderr and "'V1'" in r.stderr
    assert not out.exists()


def test_a_freeze_frame_renders_the_frame_it_holds_and_a_sidecar_beside_the_timeline_is_read(cut, tmp_path):
    _, template, root = cut
    hold = otio.schema.Clip("hold", media_reference=_isr(root / "plates" / "a", "a.", 1001, 8),
                            source_range=_range(1004, 5))
    hold.effects.append(otio.schema.FreezeFrame())
    timeline = otio.schema.Timeline()
    timeline.tracks.append(otio.schema.Track(children=[hold]))
    path = tmp_path / "freeze.otio"
    otio.adapters.write_to_file(timeline, str(path))
    (tmp_path / "freeze.recast.json").write_text(json.dumps({"hold": {"prompt": "a frozen lake", "window": {
        "length": 3}}}))
    r = run_cli("cut", "--timeline", path, "--job", template, "--handles", "1", "--plan-only", "--json")
    assert r.returncode == 0, r.stderr
    plan = next(e for e in events(r.stdout) if e["event"] == "plan")
    assert [(s["shows"], s["frames"], s["retime"]) for s in plan["shots"]] == [("1004-1004", "1003-1005",
                                                                                "freeze frame")]
    job = json.loads(open(plan["shots"][0]["job"]).read())
    assert (job["prompt"], job["window"]["length"]) == ("a frozen lake", 3)
    assert os.path.dirname(plan["shots"][0]["job"]) == str(tmp_path / "freeze_recast" / "hold" / "v001")


def test_a_hosts_strips_are_a_cut_and_a_bad_strips_file_is_one_line(cut, tmp_path):
    """``--strips``: what Blender's "Recast selected strips" hands the worker (no OpenTimelineIO in the host)."""
    _, template, root = cut
    strips = tmp_path / "strips.json"
    strips.write_text(json.dumps({"format": "recast-strips/1", "rate": 24, "strips": [
        {"name": "left", "pattern": str(root / "plates" / "a" / "a.####.exr"), "frames": [1002, 1004], "start": 10,
         "recast": {"prompt": "a chalk drawing"}},
        {"name": "right", "pattern": str(root / "plates" / "b" / "b.####.exr"), "frames": [1001, 1002], "start": 20}]}))
    r = run_cli("cut", "--strips", strips, "--job", template, "--out", tmp_path / "out", "--handles", "1",
                "--plan-only", "--json")
    assert r.returncode == 0, r.stderr
    plan = next(e for e in events(r.stdout) if e["event"] == "plan")
    assert [(s["name"], s["shows"], s["frames"], s["version"]) for s in plan["shots"]] == [
        ("left", "1002-1004", "1001-1005", 1), ("right", "1001-1002", "1001-1003", 1)]
    assert json.loads(open(plan["shots"][0]["job"]).read())["prompt"] == "a chalk drawing"
    planned = otio.adapters.read_from_file(str(tmp_path / "out" / "cut.otio"))
    assert [type(i).__name__ for i in planned.tracks[0]] == ["Clip", "Gap", "Clip"]  # right starts 7 frames later
    for doc, words in (({"format": "recast-strips/1", "strips": []}, "is not a Recast strips file"),
                       ({"format": "recast-strips/1", "strips": [{"name": "x"}]}, "strip 1 is malformed")):
        strips.write_text(json.dumps(doc))
        r = run_cli("cut", "--strips", strips, "--job", template, "--out", tmp_path / "bad", "--plan-only")
        lines = r.stderr.strip().splitlines()
        assert r.returncode == 1 and len(lines) == 1 and words in lines[0], r.stderr
        assert not (tmp_path / "bad").exists()


def test_a_template_without_a_plate_or_output_plans(tmp_path):
    """The README's template is a look (prompt, model, steps): each shot's plate and output are its clip's, so a
    template without 'input'/'output' is a template, not 'job field input is missing'."""
    write_synthetic_plate(str(tmp_path / "p" / "p.####.exr"), 1001, 4, width=64, height=40)
    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    track.append(otio.schema.Clip("sh010", media_reference=_isr(tmp_path / "p", "p.", 1001, 4),
                                  source_range=_range(1001, 2)))
    timeline = otio.schema.Timeline(name="r")
    timeline.tracks.append(track)
    otio.adapters.write_to_file(timeline, str(tmp_path / "r.otio"))
    (tmp_path / "look.json").write_text(json.dumps({"prompt": "a claymation street", "model": "tiny", "steps": 1}))
    r = run_cli("cut", "--timeline", str(tmp_path / "r.otio"), "--job", str(tmp_path / "look.json"), "--plan-only",
                "--json")
    assert r.returncode == 0, r.stderr
    shot = json.loads((tmp_path / "r_recast" / "sh010" / "v001" / "sh010.json").read_text())
    assert shot["input"]["pattern"].endswith("p.####.exr") and "sh010" in shot["output"]["pattern"]
