"""``recast farm openjd|opencue --cut DIR``: one farm job for a whole cut, every shot's steps, then the conform.

A two-shot cut over plates generated here (64x40, tiny preset), planned with ``recast cut --plan-only``.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from conftest import events, job_dict, run_cli
from recast.core.shot.synthetic import write_synthetic_plate

otio = pytest.importorskip("opentimelineio")
RT, TR = otio.opentime.RationalTime, otio.opentime.TimeRange
BIN = os.path.dirname(sys.executable)


def _range(start, count, rate=24):
    return TR(RT(start, rate), RT(count, rate))


def _isr(folder, prefix, first, count, rate=24):
    return otio.schema.ImageSequenceReference(
        target_url_base=otio.url_utils.url_from_filepath(str(folder) + os.sep), name_prefix=prefix,
        name_suffix=".exr", start_frame=first, rate=rate, frame_zero_padding=4,
        available_range=_range(first, count, rate))


@pytest.fixture
def planned(tmp_path):
    """A two-shot cut, planned: (the cut's folder, the timeline, the template)."""
    write_synthetic_plate(str(tmp_path / "plates" / "a" / "a.####.exr"), 1001, 5, width=64, height=40)
    write_synthetic_plate(str(tmp_path / "plates" / "b" / "b.####.exr"), 1001, 5, width=64, height=40)
    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    track.extend([otio.schema.Clip("sh010", media_reference=_isr(tmp_path / "plates" / "a", "a.", 1001, 5),
                                   source_range=_range(1002, 2), metadata={"recast": {"seed": 7}}),
                  otio.schema.Gap(source_range=_range(0, 1)),
                  otio.schema.Clip("sh020", media_reference=_isr(tmp_path / "plates" / "b", "b.", 1001, 5),
                                   source_range=_range(1003, 2))])
    timeline = otio.schema.Timeline(name="reel9")
    timeline.tracks.append(track)
    path = tmp_path / "reel9.otio"
    otio.adapters.write_to_file(timeline, str(path))
    template = tmp_path / "template.json"
    template.write_text(json.dumps(job_dict(input={"pattern": "plates/a/a.####.exr", "frames": None}, steps=1,
                                            window={"length": 4, "overlap": 1})))
    out = tmp_path / "cut"
    r = run_cli("cut", "--timeline", path, "--job", template, "--out", out, "--handles", "1", "--plan-only", "--json")
    assert r.returncode == 0, r.stderr
    return out, path, template


@pytest.mark.slow
def test_openjd_cut_checks_and_renders_both_shots_then_conforms(planned, tmp_path):
    out, path, _ = planned
    r = run_cli("farm", "openjd", "--cut", out, "--chunk-size", "2", "--out", tmp_path / "bundle", "--json")
    assert r.returncode == 0, r.stderr
    written = json.loads(r.stdout)
    check = subprocess.run([os.path.join(BIN, "openjd"), "check", str(tmp_path / "bundle" / "template.json")],
                           capture_output=True, text=True)
    assert check.returncode == 0 and "passes validation" in check.stdout, check.stdout + check.stderr
    template = json.loads((tmp_path / "bundle" / "template.json").read_text())
    steps = {s["name"]: [d["dependsOn"] for d in s.get("dependencies", [])] for s in template["steps"]}
    # each shot's own steps, its assemble waiting only for its own renders; the conform for every shot
    assert steps == {"sh010 Depth": [], "sh010 Render": ["sh010 Depth"], "sh010 Assemble": ["sh010 Render"],
                     "sh020 Depth": [], "sh020 Render": ["sh020 Depth"], "sh020 Assemble": ["sh020 Render"],
                     "Conform": ["sh010 Assemble", "sh020 Assemble"]}
    render = next(s for s in template["steps"] if s["name"] == "sh020 Render")
    assert render["parameterSpace"]["taskParameterDefinitions"][0]["range"] == "1002-1005"
    assert sorted(os.listdir(tmp_path / "bundle" / "jobs")) == ["sh010.json", "sh020.json"]

    run = subprocess.run(shlex.split(written["openjd_run"]), capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert "Session ended successfully" in run.stdout
    for name, frames in (("sh010", range(1001, 1005)), ("sh020", range(1002, 1006))):
        assert sorted(n for n in os.listdir(out / name / "v001") if n.endswith(".exr")) == [
            f"{name}_recast.{f}.exr" for f in frames]
    conformed = out / "reel9_recast.otio"
    clips = {c.name: c for c in otio.adapters.read_from_file(str(conformed)).find_clips()}
    for name, first in (("sh010", 1001), ("sh020", 1002)):
        ref = clips[name].media_reference
        assert isinstance(ref, otio.schema.ImageSequenceReference) and ref.start_frame == first
        for i in range(4):  # every frame of the shot's range (handles included) is where the timeline points
            assert os.path.isfile(otio.url_utils.filepath_from_url(ref.target_url_for_image_number(i)))
        assert f"/{name}/v001" in ref.target_url_base


def test_opencue_cut_has_each_shots_layers_and_a_conform_after_them(planned, tmp_path):
    out, _, _ = planned
    r = run_cli("farm", "opencue", "--cut", out, "--chunk-size", "2", "--out", tmp_path / "cue", "--user", "artist",
                "--json")
    assert r.returncode == 0, r.stderr
    root = ET.parse(json.loads(r.stdout)["spec"]).getroot()
    layers = [layer.get("name") for layer in root.iter("layer")]
    assert layers == ["sh010_depth", "sh010_render", "sh010_assemble", "sh020_depth", "sh020_render",
                      "sh020_assemble", "conform"]
    depends = {(d.findtext("deplayer"), d.findtext("onlayer")) for d in root.iter("depend")}
    assert depends == {("sh010_render", "sh010_depth"), ("sh010_assemble", "sh010_render"),
                       ("sh020_render", "sh020_depth"), ("sh020_assemble", "sh020_render"),
                       ("conform", "sh010_assemble"), ("conform", "sh020_assemble")}
    conform = shlex.split(next(la for la in root.iter("layer") if la.get("name") == "conform").findtext("cmd"))
    assert conform[1:] == ["cut", "--conform-only", "--out", str(out), "--json"]
    render = shlex.split(next(la for la in root.iter("layer") if la.get("name") == "sh020_render").findtext("cmd"))
    assert json.loads(open(render[3]).read())["output"]["pattern"].endswith("/cut/sh020/v001/sh020_recast.####.exr")


def test_conform_only_keeps_a_shot_without_its_frames_on_its_plate(planned, tmp_path):
    out, _, _ = planned
    from recast.core.cut import read_manifest
    from recast.core.io.frames import SequencePattern

    shots = read_manifest(str(out))
    job = json.loads(open(shots[0].job).read())  # sh010 rendered (as a farm would), sh020 not
    seq = SequencePattern.parse(job["output"]["pattern"])
    for f in range(1001, 1005):
        write_synthetic_plate(seq.path(f).replace(f".{f}.", ".####."), f, 1, width=64, height=40)
    r = run_cli("cut", "--conform-only", "--out", out, "--json")
    assert r.returncode == 1 and r.stderr.startswith("recast: error: shot 'sh020': frames 1002-1005 of its render")
    assert len(r.stderr.strip().splitlines()) == 1
    clips = {c.name: c for c in otio.adapters.read_from_file(events(r.stdout)[-1]["timeline"]).find_clips()}
    assert "/sh010/v001" in clips["sh010"].media_reference.target_url_base
    assert clips["sh020"].media_reference.name_prefix == "b."  # still on its plate, with a marker saying why
    assert clips["sh020"].markers[-1].metadata["recast_cut"]["status"] == "failed"


def test_a_folder_that_is_not_a_planned_cut_is_one_line_and_writes_nothing(tmp_path, planned):
    out, _, template = planned
    for fmt in ("openjd", "opencue"):
        r = run_cli("farm", fmt, "--cut", tmp_path / "plates", "--out", tmp_path / fmt, "--user", "artist")
        lines = r.stderr.strip().splitlines()
        assert r.returncode == 1 and len(lines) == 1 and "is not a planned cut (no cut.json)" in lines[0], r.stderr
        assert not (tmp_path / fmt).exists()
    os.unlink(out / "sh020" / "v001" / "sh020.json")
    r = run_cli("farm", "openjd", "--cut", out, "--out", tmp_path / "bundle")
    assert r.returncode == 1 and "shot 'sh020': its job file" in r.stderr and not (tmp_path / "bundle").exists()
    r = run_cli("cut", "--conform-only", "--out", tmp_path / "plates")
    assert r.returncode == 1 and "is not a planned cut" in r.stderr
    # --job and --cut: one of them, never both
    r = run_cli("farm", "openjd", "--cut", out, "--job", template)
    assert r.returncode == 2 and "not allowed with argument" in r.stderr
    r = run_cli("farm", "openjd")
    assert r.returncode == 2 and "one of the arguments --job --cut is required" in r.stderr


def test_a_cut_over_more_plate_folders_than_openjd_has_parameters_is_one_line(tmp_path):
    """OpenJD allows 50 job parameters: shots sharing a plate folder share one; 48 folders are too many."""
    one = tmp_path / "one" / "x.####.exr"
    write_synthetic_plate(str(one), 1, 1, width=8, height=8)
    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    for n in range(48):
        folder = tmp_path / "plates" / f"p{n:02d}"
        folder.mkdir(parents=True)
        os.link(str(one).replace("####", "0001"), folder / "p.1001.exr")
        track.append(otio.schema.Clip(f"sh{n:03d}", media_reference=_isr(folder, "p.", 1001, 1),
                                      source_range=_range(1001, 1)))
    timeline = otio.schema.Timeline()
    timeline.tracks.append(track)
    otio.adapters.write_to_file(timeline, str(tmp_path / "big.otio"))
    (tmp_path / "t.json").write_text(json.dumps(job_dict(input={"frames": None})))
    r = run_cli("cut", "--timeline", tmp_path / "big.otio", "--job", tmp_path / "t.json", "--out", tmp_path / "cut",
                "--handles", "0", "--plan-only")
    assert r.returncode == 0, r.stderr
    r = run_cli("farm", "openjd", "--cut", tmp_path / "cut", "--out", tmp_path / "bundle")
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 1 and len(lines) == 1 and "reads plates from 48 folders" in lines[0], r.stderr
    assert not (tmp_path / "bundle").exists()


@pytest.mark.parametrize("farm", ["deadline", "flamenco"])
def test_a_deadline_or_flamenco_cut_says_how_to_conform(planned, farm):
    """Deadline's and Flamenco's cut jobs are one per shot with no Conform step: the printout names the line
    that hands the timeline back on the renders (else the user never gets the conformed .otio)."""
    out, _, _ = planned
    r = run_cli("farm", farm, "--cut", out)
    assert r.returncode == 0, r.stderr
    assert f"recast cut --conform-only --out {out}" in r.stdout, r.stdout


@pytest.mark.parametrize("farm", ["openjd", "deadline"])
def test_the_cut_json_file_is_taken_for_its_folder(planned, farm, tmp_path):
    """The README calls the cut's folder 'its cut.json': --cut DIR/cut.json is the cut in DIR, not
    "cannot read 'DIR/cut.json/cut.json'"."""
    out, _, _ = planned
    r = run_cli("farm", farm, "--cut", out / "cut.json", "--out", tmp_path / f"farm_{farm}")
    assert r.returncode == 0, r.stderr


def test_a_bad_sidecar_value_is_its_shots_line_and_the_others_plan(planned, tmp_path):
    """README: 'a bad override is one line of the report and the other clips go on'. A CSV cell that is not
    its field's type (seed 'abc') stopped the whole cut with "seed 'abc' is not a int"."""
    _, path, template = planned
    sidecar = tmp_path / "bad.csv"
    sidecar.write_text("shot,seed\nsh020,abc\n")
    r = run_cli("cut", "--timeline", path, "--job", template, "--out", tmp_path / "c2", "--overrides", sidecar,
                "--plan-only", "--json")
    assert r.returncode == 0, r.stderr
    done = [json.loads(line) for line in r.stdout.splitlines() if '"done"' in line][-1]
    assert done["shots"] == 1 and "sh020" in done["not_rendered"][0] and "seed" in done["not_rendered"][0]


def test_a_cut_stopped_mid_shot_names_the_shot(planned, monkeypatch):
    """Ctrl-C in a cut: the render's 'no frame was written by this run yet' is about one shot, while earlier
    shots of the cut were written; the line names the shot it stopped in."""
    import recast.core.pipeline.render as pipeline_render
    from recast.core.cut import load_plan, render_shots
    from recast.core.errors import Cancelled
    from recast.core.progress import CancelFlag

    def stopped(*args, **kwargs):
        raise Cancelled("cancelled (SIGINT) while denoising (step 1 of 1); no frame was written by this run yet", 2)

    monkeypatch.setattr(pipeline_render, "render", stopped)

    class Quiet:
        def emit(self, *a, **k):
            pass

    out, _, _ = planned
    with pytest.raises(Cancelled) as caught:
        render_shots(load_plan(str(out)), Quiet(), CancelFlag())
    assert str(caught.value).startswith("shot sh010 (1 of 2): cancelled (SIGINT)") and caught.value.signum == 2


def test_conform_only_takes_the_cut_json_file_for_its_folder(planned):
    out, _, _ = planned
    r = run_cli("cut", "--conform-only", "--out", out / "cut.json", "--json")
    assert "cut.json/cut.json" not in r.stderr and "not rendered yet" in r.stderr, r.stderr  # planned, unrendered
