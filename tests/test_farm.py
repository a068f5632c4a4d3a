"""Farm jobs: the OpenJD bundle (checked and run locally with openjd-cli) and the OpenCue spec."""

import json
import os
import shlex
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from recast.core.io.exrio import read_header
from tests.conftest import job_dict, listing, run_cli

BIN = os.path.dirname(sys.executable)
PROMPT = "a \"claymation\" street, it's $HOME `whoami` \\n\nsecond line — été, 東京"


@pytest.fixture
def farm_job(tmp_path):
    from recast.core.shot.synthetic import write_synthetic_plate

    write_synthetic_plate(str(tmp_path / "plate" / "sh010.####.exr"), 1001, 10, width=64, height=40)
    path = tmp_path / "job.json"
    path.write_text(json.dumps(job_dict(input={"frames": "1001-1010"}, prompt=PROMPT, handles=2)))
    return path


def test_openjd_bundle_checks_and_runs_here_end_to_end(farm_job, tmp_path):
    r = run_cli("farm", "openjd", "--job", farm_job, "--chunk-size", "4", "--out", tmp_path / "bundle")
    assert r.returncode == 0, r.stderr
    bundle = tmp_path / "bundle"
    assert sorted(os.listdir(bundle)) == ["job.json", "parameter_values.json", "template.json"]
    check = subprocess.run([os.path.join(BIN, "openjd"), "check", str(bundle / "template.json")],
                           capture_output=True, text=True)
    assert check.returncode == 0 and "passes validation" in check.stdout, check.stdout + check.stderr
    template = json.loads((bundle / "template.json").read_text())
    assert [s["name"] for s in template["steps"]] == ["Depth", "Render", "Assemble"]
    assert template["extensions"] == ["TASK_CHUNKING"]
    assert PROMPT not in (bundle / "template.json").read_text()  # parameters travel in the job file only
    values = {v["name"]: v["value"] for v in json.loads((bundle / "parameter_values.json").read_text())
              ["parameterValues"]}
    assert values["Frames"] == "1001-1010" and values["ChunkSize"] == 4
    assert "JobFile" not in values  # its default, job.json, resolves inside the bundle (a value would not)
    assert values["RecastWorker"] == "recast"  # the farm hosts' PATH, not this workstation's venv
    params = {p["name"]: p for p in template["parameterDefinitions"]}
    assert (params["PlateFolder"]["objectType"], params["PlateFolder"]["dataFlow"]) == ("DIRECTORY", "IN")
    assert (params["OutputFolder"]["objectType"], params["OutputFolder"]["dataFlow"]) == ("DIRECTORY", "OUT")
    assert values["PlateFolder"] == str(tmp_path / "plate") and values["OutputFolder"] == str(tmp_path / "render")
    assert "maxValue" not in params["ChunkSize"]
    for step in template["steps"]:
        action = step["script"]["actions"]["onRun"]
        assert action["cancelation"] == {"mode": "NOTIFY_THEN_TERMINATE", "notifyPeriodInSeconds": 120}
        assert "{{Param.PlateFolder}}/sh010.####.exr" in action["args"]
        assert "{{Param.OutputFolder}}/sh010_recast.####.exr" in action["args"]

    last = r.stdout.strip().splitlines()[-1]
    argv = shlex.split(last)  # this Python's openjd-cli: it works from a venv that is not activated
    assert argv[:4] == [sys.executable, "-m", "openjd", "run"] and "--run-dependencies" in argv
    run = subprocess.run(argv, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert "Session ended successfully" in run.stdout

    out = tmp_path / "render"
    assert listing(out) == [f"sh010_recast.{f}.exr" for f in range(1001, 1011)]
    for f in range(1001, 1011):
        h = read_header(str(out / f"sh010_recast.{f}.exr"))
        assert json.loads(h.attribute("recast/job"))["prompt"] == PROMPT  # unchanged through the farm
        assert h.channels == ("R", "G", "B", "A", "depth.Z")
    # openjd run balanced the 10 frames into chunks of at most 4; each rendered through one server
    chunks = os.listdir(out / "recast_cache" / "chunks" / os.listdir(out / "recast_cache" / "chunks")[0]
                        / values["ChunkSet"])
    assert sorted(chunks) == ["1001-1004", "1005-1007", "1008-1010"]
    assert run.stdout.count(" listening; log ") == 1 and "server stopped after 3 render(s)" in run.stdout

    # a task run again (a farm retry) rewrites nothing that was finished
    stamps = {n: os.stat(out / n).st_mtime_ns for n in listing(out)}
    again = subprocess.run([os.path.join(BIN, "openjd"), "run", str(bundle / "template.json"), "--step", "Render",
                            "--task-param", "Frame=1005-1007", "--job-param",
                            json.dumps({**values, "JobFile": str(bundle / "job.json"),
                                        "RecastWorker": os.path.join(BIN, "recast")})],
                           capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stdout[-3000:]
    assert '"skipped": true' in again.stdout
    assert {n: os.stat(out / n).st_mtime_ns for n in listing(out)} == stamps


def test_opencue_spec_has_the_layers_ranges_chunks_and_dependencies(farm_job, tmp_path):
    r = run_cli("farm", "opencue", "--job", farm_job, "--chunk-size", "3", "--out", tmp_path / "cue", "--user", "artist")
    assert r.returncode == 0, r.stderr
    (spec,) = [n for n in os.listdir(tmp_path / "cue") if n.endswith(".cuejob.xml")]
    root = ET.parse(tmp_path / "cue" / spec).getroot()
    layers = {layer.get("name"): layer for layer in root.iter("layer")}
    assert list(layers) == ["depth", "render", "assemble"]
    assert [(layers[n].findtext("range"), layers[n].findtext("chunk")) for n in layers] == [
        ("1001", "1"), ("1001-1010", "3"), ("1001", "1")]
    cmd = shlex.split(layers["render"].findtext("cmd"))
    job_file = str(tmp_path / "cue" / "job.json")
    assert cmd[1:6] == ["render", "--job", job_file, "--chunk", "#FRAMESPEC#"]
    assert PROMPT not in (tmp_path / "cue" / spec).read_text()
    assert json.loads(open(job_file).read())["prompt"] == PROMPT
    depends = [(d.findtext("deplayer"), d.findtext("onlayer"), d.get("type")) for d in root.iter("depend")]
    assert depends == [("render", "depth", "LAYER_ON_LAYER"), ("assemble", "render", "LAYER_ON_LAYER")]
    assert "Cuebot" in r.stdout and "launchSpec" in r.stdout.splitlines()[-1]


@pytest.mark.parametrize("args, message", [
    (["--chunk-size", "0"], "chunk size 0 is not allowed; expected a whole number of frames, at least 1"),
    (["--chunk-size", "-3"], "chunk size -3 is not allowed"),
])
def test_bad_farm_options_are_one_line_and_write_nothing(farm_job, tmp_path, args, message):
    for fmt in ("openjd", "opencue"):
        r = run_cli("farm", fmt, "--job", farm_job, "--out", tmp_path / fmt, *args,
                    *(["--user", "artist"] if fmt == "opencue" else []))
        assert r.returncode == 1 and message in r.stderr and len(r.stderr.strip().splitlines()) == 1
        assert not (tmp_path / fmt).exists()


def test_a_job_without_a_frame_range_or_frames_on_disk_cannot_go_to_the_farm(tmp_path):
    path = tmp_path / "job.json"  # (with frames on disk it takes their range: tests/test_first_week.py)
    path.write_text(json.dumps(job_dict(input={"frames": None})))
    r = run_cli("farm", "openjd", "--job", path)
    assert r.returncode == 1 and "no frames match" in r.stderr


# --- against the real systems: Cuebot's rules, Deadline Cloud's path mapping ------------------------------

CUE_NAME = r"^[\w.]{3,}$"  # Cuebot's JobSpec.NAME_REGEX, applied after lowercasing and '-' → '_'


@pytest.mark.parametrize("output", ["render/####.exr", "render/%04d.exr", "render/sh010 comp.####.exr",
                                    "render/SH-010_Comp.v2.####.exr"])
def test_opencue_names_follow_cuebots_rules_and_each_submission_is_unique(tmp_path, plate, output):
    import re

    job = tmp_path / "job.json"
    job.write_text(json.dumps(job_dict(output={"pattern": output})))
    specs = []
    for i in range(2):
        r = run_cli("farm", "opencue", "--job", job, "--out", tmp_path / f"cue{i}", "--user", "artist", "--json")
        assert r.returncode == 0, r.stderr
        out = json.loads(r.stdout)
        root = ET.parse(out["spec"]).getroot()
        name = root.find("job").get("name")
        assert re.match(CUE_NAME, name) and name == name.lower()
        assert re.match(CUE_NAME, root.findtext("shot")) and all(re.match(CUE_NAME, layer.get("name"))
                                                                 for layer in root.iter("layer"))
        assert root.findtext("user") == "artist" and root.findtext("uid") != "0"
        assert 'cjsl-1.13.dtd' in open(out["spec"]).read()  # pinned, whatever pyoutline's default
        specs.append((name, out["chunk_set"]))
    assert specs[0][0] != specs[1][0] and specs[0][1] != specs[1][1]


def test_opencue_refuses_root_and_takes_show_shot_and_facility(tmp_path, farm_job):
    r = run_cli("farm", "opencue", "--job", farm_job, "--out", tmp_path / "cue", "--user", "root")
    assert r.returncode == 1 and "Cuebot refuses jobs submitted as root; give --user NAME" in r.stderr
    assert not (tmp_path / "cue").exists()
    r = run_cli("farm", "opencue", "--job", farm_job, "--out", tmp_path / "cue", "--user", "artist", "--show",
                "MyShow", "--shot", "sh-010", "--facility", "local", "--json")
    assert r.returncode == 0, r.stderr
    root = ET.parse(json.loads(r.stdout)["spec"]).getroot()
    assert (root.findtext("show"), root.findtext("shot"), root.findtext("facility")) == ("myshow", "sh_010", "local")
    for flag, value in (("--shot", "%%%"), ("--show", "a!")):  # nothing Cuebot would keep: one line, nothing written
        bad = run_cli("farm", "opencue", "--job", farm_job, "--out", tmp_path / "bad", "--user", "artist", flag + "=" +
                      value)
        assert bad.returncode == 1 and "Cuebot needs at least 3 letters" in bad.stderr, bad.stderr
        assert len(bad.stderr.strip().splitlines()) == 1 and not (tmp_path / "bad").exists()


def test_the_openjd_render_takes_its_paths_from_the_command_line_as_path_mapping_gives_them(farm_job, tmp_path):
    """Deadline Cloud maps PATH parameters for the worker host: a bundle run with other plate and output folders
    reads and writes there, whatever the job file says."""
    import shutil as sh

    r = run_cli("farm", "openjd", "--job", farm_job, "--chunk-size", "10", "--out", tmp_path / "bundle", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    sh.copytree(tmp_path / "plate", tmp_path / "mounted" / "plate")
    sh.rmtree(tmp_path / "plate")  # the submitter's path does not exist on the "worker"
    argv = shlex.split(out["openjd_run"])
    i = argv.index("--job-param") + 1
    values = json.loads(argv[i])
    values.update(PlateFolder=str(tmp_path / "mounted" / "plate"), OutputFolder=str(tmp_path / "mounted" / "render"))
    argv[i] = json.dumps(values)
    run = subprocess.run(argv, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-1000:]
    assert listing(tmp_path / "mounted" / "render") == [f"sh010_recast.{f}.exr" for f in range(1001, 1011)]
    assert not (tmp_path / "render").exists()


def test_a_job_that_trains_a_lora_gets_a_customize_step_before_the_render(tmp_path):
    from recast.core.shot.synthetic import write_synthetic_plate
    from tests.test_customize import _images

    write_synthetic_plate(str(tmp_path / "plate" / "sh010.####.exr"), 1001, 4, width=64, height=40)
    _images(tmp_path / "look")
    path = tmp_path / "job.json"
    path.write_text(json.dumps(job_dict(input={"frames": "1001-1004"}, prompt="sks street", customize={
        "images": "look", "token": "sks", "steps": 2, "rank": 4, "resolution": 64, "weight": 0.7})))
    # rendering first is one line: the LoRA is not trained yet
    r = run_cli("render", "--job", path)
    assert r.returncode == 1 and "job field 'customize': its LoRA" in r.stderr and "not trained yet" in r.stderr
    assert r.stderr.count("\n") == 1 and not listing(tmp_path / "render")
    r = run_cli("farm", "openjd", "--job", path, "--chunk-size", "4", "--out", tmp_path / "bundle")
    assert r.returncode == 0, r.stderr
    template = json.loads((tmp_path / "bundle" / "template.json").read_text())
    steps = {s["name"]: s for s in template["steps"]}
    assert list(steps) == ["Customize", "Depth", "Render", "Assemble"]
    assert {"dependsOn": "Customize"} in steps["Render"]["dependencies"]
    args = steps["Customize"]["script"]["actions"]["onRun"]["args"]
    assert args[:3] == ["customize", "--job", "{{Param.JobFile}}"]
    assert "{{Param.TrainingImages}}" in args and "{{Param.OutputFolder}}/sh010_recast.####.exr" in args
    params = {p["name"]: p for p in template["parameterDefinitions"]}
    assert (params["TrainingImages"]["objectType"], params["TrainingImages"]["dataFlow"]) == ("DIRECTORY", "IN")
    check = subprocess.run([os.path.join(BIN, "openjd"), "check", str(tmp_path / "bundle" / "template.json")],
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    argv = shlex.split(r.stdout.strip().splitlines()[-1])
    run = subprocess.run([os.path.join(BIN, argv[0]), *argv[1:]], capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    lora = tmp_path / "render" / "lora" / "customize.safetensors"
    assert lora.is_file()
    note = read_header(str(tmp_path / "render" / "sh010_recast.1001.exr")).attribute("recast/loras")
    assert note.startswith("customize.safetensors@0.7 sha256:")
