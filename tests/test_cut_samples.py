"""OpenTimelineIO's own sample EDL and FCP 7 XML (tests/data/otio_samples/, see its README) planned by ``recast cut``.

Their clips name media that is not here (an EDL names none; the XML names an ``.mxf``), so ``--media-root`` points
at EXR plates generated here, named like the clips; every frame is a hard link to one tiny EXR (planning reads
which frames exist, not their pixels).
"""

from __future__ import annotations

import json
import os

import pytest

from conftest import events, job_dict, run_cli
from recast.core.shot.synthetic import write_synthetic_plate

pytest.importorskip("opentimelineio")
SAMPLES = os.path.join(os.path.dirname(__file__), "data", "otio_samples")


def _plate(root, name, first, last):
    """``root/name.####.exr`` frames first..last, all one 8x8 EXR."""
    one = root / "_one" / f"{name}.####.exr"
    write_synthetic_plate(str(one), 1, 1, width=8, height=8)
    src = str(one).replace("####", "0001")
    for f in range(first, last + 1):
        os.link(src, root / f"{name}.{f:04d}.exr")


@pytest.fixture
def template(tmp_path):
    path = tmp_path / "template.json"
    path.write_text(json.dumps(job_dict(input={"frames": None}, steps=1)))
    return path


def _plan(stdout):
    return next(e for e in events(stdout) if e["event"] == "plan")


def test_otios_sample_edl_plans_its_clips_from_plates_named_like_them(tmp_path, template):
    """dissolve_test.edl: clip_A 01:00:04:05 (frame 86501 at 24 fps) for 9 frames, then a 10-frame dissolve into
    clip_B at 01:00:08:08 (86600), and one more frame of clip_B (86610); its reel is TST."""
    plates = tmp_path / "plates"
    plates.mkdir()
    _plate(plates, "clip_A", 86490, 86530)
    _plate(plates, "clip_B", 86590, 86630)
    edl = os.path.join(SAMPLES, "dissolve_test.edl")
    r = run_cli("cut", "--timeline", edl, "--job", template, "--out", tmp_path / "cut", "--media-root", plates,
                "--handles", "2", "--plan-only", "--json")
    assert r.returncode == 0, r.stderr
    plan = _plan(r.stdout)
    # clip_A plays on through the dissolve (10 more frames); each shot its frames and 2 handles each side
    assert [(s["name"], s["shows"], s["frames"]) for s in plan["shots"]] == [
        ("clip_A", "86501-86519", "86499-86521"), ("clip_B", "86600-86609", "86598-86611"),
        ("clip_B_3", "86610-86610", "86608-86612")]
    assert plan["skipped"] == []
    for shot in plan["shots"]:
        job = json.loads(open(shot["job"]).read())
        assert job["input"]["pattern"] == str(plates / f"{shot['name'][:6]}.#####.exr")
        assert job["input"]["frames"] == shot["frames"]

    # plates for clip_B missing: each of its clips is one line, clip_A is planned
    for name in os.listdir(plates):
        if name.startswith("clip_B"):
            os.unlink(plates / name)
    r = run_cli("cut", "--timeline", edl, "--job", template, "--out", tmp_path / "cut2", "--media-root", plates,
                "--handles", "2", "--plan-only", "--json")
    assert r.returncode == 0, r.stderr
    plan = _plan(r.stdout)
    assert [s["name"] for s in plan["shots"]] == ["clip_A"]
    assert [(s["name"], s["reason"]) for s in plan["skipped"]] == [
        (n, "it has no media and none under --media-root named 'clip_B' or 'TST'") for n in ("clip_B", "clip_B_3")]


def test_otios_sample_fcp7_xml_plans_its_mxf_clip_from_the_plate_named_for_it(tmp_path, template):
    """hiero_xml_export.xml: a gap, clip A160C005_171213_R0MN (1055 frames of an .mxf whose timecode starts at
    frame 1101071), a gap, and a retimed clip '/' with no file."""
    plates = tmp_path / "plates"
    plates.mkdir()
    _plate(plates, "A160C005_171213_R0MN", 1001, 2055)
    xml = os.path.join(SAMPLES, "hiero_xml_export.xml")
    r = run_cli("cut", "--timeline", xml, "--job", template, "--out", tmp_path / "cut", "--media-root", plates,
                "--handles", "3", "--plan-only", "--json")
    assert r.returncode == 0, r.stderr
    ev = events(r.stdout)
    plan = _plan(r.stdout)
    # the movie's first frame is the plate's first: the clip shows all of it, so no handle frames are there
    assert [(s["name"], s["shows"], s["frames"]) for s in plan["shots"]] == [
        ("A160C005_171213_R0MN", "1001-2055", "1001-2055")]
    warnings = [e["message"] for e in ev if e["event"] == "warning"]
    assert sum("0 of 3 handle frames" in w for w in warnings) == 2
    # the clip without a file is one line naming it; it stays in the cut as it was
    assert len(plan["skipped"]) == 1 and plan["skipped"][0]["reason"].startswith("it has no media")
    assert sorted(os.listdir(tmp_path / "cut")) == ["A160C005_171213_R0MN", "cut.json", "cut.otio"]

    # without --media-root the .mxf is refused in one line, and no clip left to render writes nothing
    r = run_cli("cut", "--timeline", xml, "--job", template, "--out", tmp_path / "none", "--plan-only", "--json")
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 1 and len(lines) == 1 and "no clip of" in lines[0], r.stderr
    assert "A160C005_171213_R0MN.mxf' is not a frame sequence" in lines[0] and "give --media-root" in lines[0]
    assert not (tmp_path / "none").exists()
