"""On-prem farms: the Deadline 10 plugin and jobs, the Flamenco 3 job type and its submission.

The Deadline plugin runs on a stand-in of Deadline's scripting API (tests/deadline_standin: what its docs and
Thinkbox's sample plugins show); the Flamenco job type compiles under Node with a stand-in of the Manager's
compiler globals (tests/flamenco_standin/compile.js); the Manager's API is a local HTTP stand-in."""

import json
import os
import shutil
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from tests.conftest import job_dict, listing, run_cli

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
PLUGIN = os.path.join(REPO, "plugin", "deadline", "Recast")
JOB_TYPE = os.path.join(REPO, "plugin", "flamenco", "recast.js")
RECAST = os.path.join(os.path.dirname(sys.executable), "recast")
sys.path.insert(0, os.path.join(HERE, "deadline_standin"))

from worker import Worker, read_job_file  # noqa: E402  (the stand-in's Worker)


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed (.ci/run installs it)")
    return node


def _job(tmp_path, frames=6, **fields):
    from recast.core.shot.synthetic import write_synthetic_plate

    write_synthetic_plate(str(tmp_path / "plate" / "sh010.####.exr"), 1001, frames, width=64, height=40)
    path = tmp_path / "job.json"
    path.write_text(json.dumps(job_dict(input={"frames": f"1001-{1000 + frames}"}, **fields)))
    return path


def _one_line_error(r, text):
    assert r.returncode == 1, r.stdout + r.stderr
    assert text in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr


def _config():
    return {"Recast_Executable": f"/nonexistent/recast;{RECAST}"}


def _run_deadline(folder, jobs_data):
    """Every job of a 'recast farm deadline' folder through the plugin, in submission order; the plugins."""
    plugins = []
    for name in sorted(n for n in os.listdir(folder) if n.endswith("_job_info.job")):
        stem = name[: -len("_job_info.job")]
        worker = Worker(PLUGIN, _config(), str(jobs_data))
        plugins.append((stem, worker.run_job(read_job_file(os.path.join(folder, name)),
                                             read_job_file(os.path.join(folder, stem + "_plugin_info.job")))))
    return plugins


# --- Deadline 10 ----------------------------------------------------------------------------------------------

def test_deadline_jobs_are_numbered_pairs_with_monitor_outputs_and_farm_settings(tmp_path):
    job = _job(tmp_path, frames=10)
    r = run_cli("farm", "deadline", "--job", job, "--out", tmp_path / "dl", "--chunk-size", "4", "--pool", "gpu",
                "--group", "recast", "--priority", "70", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["jobs"] == ["01_depth", "02_render", "03_assemble"]
    assert sorted(os.listdir(tmp_path / "dl")) == sorted(
        ["job.json"] + [f"{s}_{k}.job" for s in out["jobs"] for k in ("job_info", "plugin_info")])
    render = read_job_file(tmp_path / "dl" / "02_render_job_info.job")
    assert render["Plugin"] == "Recast" and render["Frames"] == "1001-1010" and render["ChunkSize"] == "4"
    assert (render["Pool"], render["Group"], render["Priority"]) == ("gpu", "recast", "70")
    assert render["OutputDirectory0"] == str(tmp_path / "render")
    assert render["OutputFilename0"] == "sh010_recast.####.exr"
    depth = read_job_file(tmp_path / "dl" / "01_depth_job_info.job")
    assert (depth["Frames"], depth["ChunkSize"]) == ("1001", "1")  # one task
    info = read_job_file(tmp_path / "dl" / "02_render_plugin_info.job")
    assert info["JobFile"] == str(tmp_path / "dl" / "job.json") and info["Step"] == "Render"
    assert info["ChunkSet"] == read_job_file(tmp_path / "dl" / "03_assemble_plugin_info.job")["ChunkSet"]
    # the steps are the ones the OpenJD bundle has for the same job
    r = run_cli("farm", "openjd", "--job", job, "--out", tmp_path / "ojd")
    steps = [s["name"] for s in json.loads((tmp_path / "ojd" / "template.json").read_text())["steps"]]
    assert [read_job_file(tmp_path / "dl" / f"{s}_plugin_info.job")["Step"] for s in out["jobs"]] == steps


FAKE_DEADLINECOMMAND = """#!{python}
import json, sys
with open({log!r}, "a") as fh:
    fh.write(json.dumps(sys.argv[1:]) + "\\n")
jobs = sys.argv.count("-job")
if {refuse}:
    print("Deadline Command 10.3.2.1")
    print("Error: Pool 'gpu' does not exist")
    sys.exit(1)
# what deadlinecommand -SubmitMultipleJobs prints: per job a block ending in Result= and JobID= lines
for i in range(jobs):
    print("")
    print("Submitting to Repository: /mnt/DeadlineRepository10")
    print("Submission Contains No Auxiliary Files.")
    print("")
    print("Result=Success")
    print("JobID=65f1c0d2e4b0a1%010d" % i)
    print("The job was submitted successfully. It may take a few seconds before it appears in the Monitor.")
"""


def _fake_deadlinecommand(tmp_path, monkeypatch, refuse=False):
    bin_dir = tmp_path / "deadline_bin"
    bin_dir.mkdir(exist_ok=True)
    log = tmp_path / "deadlinecommand.log"
    script = bin_dir / "deadlinecommand"
    script.write_text(FAKE_DEADLINECOMMAND.format(python=sys.executable, log=str(log), refuse=refuse))
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return log


def test_deadline_submit_runs_deadlinecommand_and_reads_the_job_ids(tmp_path, monkeypatch):
    job = _job(tmp_path)
    monkeypatch.delenv("DEADLINE_PATH", raising=False)
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    r = run_cli("farm", "deadline", "--job", job, "--out", tmp_path / "none", "--submit")
    _one_line_error(r, "deadlinecommand is not on PATH")
    assert not (tmp_path / "none").exists()

    log = _fake_deadlinecommand(tmp_path, monkeypatch)
    r = run_cli("farm", "deadline", "--job", job, "--out", tmp_path / "dl", "--submit", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["job_ids"] == ["65f1c0d2e4b0a1%010d" % i for i in range(3)]
    (argv,) = [json.loads(line) for line in log.read_text().splitlines()]
    files = [str(tmp_path / "dl" / f"{s}_{k}.job") for s in ("01_depth", "02_render", "03_assemble")
             for k in ("job_info", "plugin_info")]
    assert argv == ["-SubmitMultipleJobs", "-dependent", "-job", *files[0:2], "-job", *files[2:4], "-job", *files[4:6]]

    log = _fake_deadlinecommand(tmp_path, monkeypatch, refuse=True)
    r = run_cli("farm", "deadline", "--job", job, "--out", tmp_path / "dl2", "--submit", "--pool", "gpu")
    _one_line_error(r, "Deadline refused the jobs (0 of 3 submitted): Error: Pool 'gpu' does not exist")


def test_a_cut_gets_a_deadline_and_a_flamenco_job_per_shot_in_cut_order(tmp_path):
    cut = tmp_path / "cut"
    shots = []
    for i, name in enumerate(["sh020", "sh010"], 1):
        folder = cut / name
        folder.mkdir(parents=True)
        (folder / "job.json").write_text(json.dumps(job_dict(
            input={"pattern": str(tmp_path / "plate" / f"{name}.####.exr"), "frames": None},
            output={"pattern": str(tmp_path / "render" / name / f"{name}.####.exr")})))
        shots.append({"name": name, "index": i, "job": f"{name}/job.json", "frames": [1001, 1000 + 4 * i],
                      "shows": [1001, 1000 + 4 * i], "retime": None})
    (cut / "cut.json").write_text(json.dumps({"format": "recast-cut/1", "timeline": "t.otio", "shots": shots,
                                              "skipped": []}))
    r = run_cli("farm", "deadline", "--cut", cut, "--chunk-size", "4", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert [os.path.basename(o["folder"]) for o in out] == ["001_sh020", "002_sh010"]
    frames = [read_job_file(os.path.join(o["folder"], "02_render_job_info.job"))["Frames"] for o in out]
    assert frames == ["1001-1004", "1001-1008"]
    r = run_cli("farm", "flamenco", "--cut", cut, "--chunk-size", "4", "--json")
    assert r.returncode == 0, r.stderr
    bodies = [json.loads(open(o["submission"]).read()) for o in json.loads(r.stdout)]
    assert [b["settings"]["frames"] for b in bodies] == ["1001-1004", "1001-1008"]
    assert [os.path.dirname(o["submission"]) for o in json.loads(r.stdout)] == [
        str(cut / "farm_flamenco" / "001_sh020"), str(cut / "farm_flamenco" / "002_sh010")]
    r = run_cli("farm", "deadline", "--cut", tmp_path / "render", "--out", tmp_path / "x")
    _one_line_error(r, "is not a planned cut")
    assert not (tmp_path / "x").exists()


def test_the_plugin_fails_the_task_with_recasts_one_line(tmp_path):
    job = _job(tmp_path, frames=4)
    r = run_cli("farm", "deadline", "--job", job, "--out", tmp_path / "dl", "--json")
    assert r.returncode == 0, r.stderr
    shutil.rmtree(tmp_path / "plate")  # the worker finds no plate
    from Deadline.Plugins import RenderFailed

    worker = Worker(PLUGIN, _config(), str(tmp_path))
    with pytest.raises(RenderFailed) as failed:
        worker.run_job(read_job_file(tmp_path / "dl" / "01_depth_job_info.job"),
                       read_job_file(tmp_path / "dl" / "01_depth_plugin_info.job"))
    errors = [json.loads(line) for line in worker.plugin.stdout if line.startswith('{"event": "error"')]
    assert len(errors) == 1 and str(failed.value) == errors[0]["message"]
    assert "4 of 4 frames are missing: 1001-1004" in str(failed.value) and "\n" not in str(failed.value)
    # no executable in the plugin's configured list: Deadline's own message
    worker = Worker(PLUGIN, {"Recast_Executable": "/nonexistent/recast"}, str(tmp_path))
    with pytest.raises(RenderFailed, match="Recast render executable was not found in the semicolon separated"):
        worker.run_job(read_job_file(tmp_path / "dl" / "01_depth_job_info.job"),
                       read_job_file(tmp_path / "dl" / "01_depth_plugin_info.job"))


def test_the_plugin_folder_is_complete_and_installs_whole(tmp_path):
    from recast.core.errors import JobError
    from recast.core.farm.deadline_plugin import PLUGIN_FILES, install_plugin
    from recast.core.progress.events import STAGE_SHARES

    plugins = tmp_path / "repo" / "custom" / "plugins"
    plugins.mkdir(parents=True)
    r = run_cli("farm", "deadline", "--job", _job(tmp_path), "--out", tmp_path / "dl", "--install-plugin", plugins)
    assert r.returncode == 0, r.stderr
    assert sorted(os.listdir(plugins / "Recast")) == sorted(PLUGIN_FILES)
    # a broken copy of the folder (a file lost on the way) installs nothing and says which file
    broken = tmp_path / "broken" / "Recast"
    shutil.copytree(PLUGIN, broken)
    (broken / "Recast.param").unlink()
    other = tmp_path / "other"
    other.mkdir()
    with pytest.raises(JobError) as exc:
        install_plugin(str(other), source=str(broken))
    assert "lacks Recast.param" in str(exc.value) and "\n" not in str(exc.value)
    assert os.listdir(other) == []
    # the plugin's progress table is Recast's (it cannot import recast under Deadline's Python)
    assert Worker(PLUGIN, {}, str(tmp_path)).load().STAGE_SHARES == STAGE_SHARES


def test_the_plugin_imports_only_what_deadlines_python_has():
    """Recast.py runs in Deadline's own Python 3: the standard library and Deadline's modules, nothing else."""
    import ast

    tree = ast.parse(open(os.path.join(PLUGIN, "Recast.py"), encoding="utf-8").read())
    names = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    names |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert names - sys.stdlib_module_names == {"Deadline", "FranticX"}


@pytest.mark.parametrize("fmt", ["deadline", "flamenco"])
@pytest.mark.parametrize("args, message", [
    (["--chunk-size", "0"], "chunk size 0 is not allowed; expected a whole number of frames, at least 1"),
    (["--priority", "101"], "is not a"),
])
def test_bad_onprem_options_are_one_line_and_write_nothing(tmp_path, fmt, args, message):
    r = run_cli("farm", fmt, "--job", _job(tmp_path), "--out", tmp_path / "out", *args)
    _one_line_error(r, message)
    assert not (tmp_path / "out").exists()


# --- Flamenco 3 -----------------------------------------------------------------------------------------------

def _compile(folder):
    done = subprocess.run([_node(), os.path.join(HERE, "flamenco_standin", "compile.js"),
                           os.path.join(folder, "recast.js"), os.path.join(folder, "job.json")],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_flamenco_submission_validates_and_the_job_type_compiles_to_the_shot_graph(tmp_path):
    import jsonschema

    r = run_cli("farm", "flamenco", "--job", _job(tmp_path, frames=10), "--out", tmp_path / "fl", "--chunk-size",
                "4", "--json")
    assert r.returncode == 0, r.stderr
    body = json.loads((tmp_path / "fl" / "job.json").read_text())
    schema = json.loads(open(os.path.join(HERE, "data", "flamenco_submitted_job.schema.json")).read())
    jsonschema.validate(body, schema)
    assert (body["type"], body["priority"], body["submitter_platform"]) == ("recast", 50, "linux")
    assert body["settings"]["frames"] == "1001-1010" and body["settings"]["chunk_size"] == 4
    job = _compile(tmp_path / "fl")
    tasks = {t["name"]: t for t in job["tasks"]}
    # frameChunker writes a two-frame chunk as "1009,1010": the job type still renders it as one chunk
    assert list(tasks) == ["depth", "render-1001-1004", "render-1005-1008", "render-1009-1010", "assemble"]
    assert tasks["render-1009-1010"]["dependencies"] == ["depth"]
    assert tasks["assemble"]["dependencies"] == ["render-1001-1004", "render-1005-1008", "render-1009-1010"]
    command = tasks["render-1005-1008"]["commands"][0]
    assert command["name"] == "exec" and command["parameters"]["exe"] == "{recast}"
    assert command["parameters"]["args"][:5] == ["render", "--job", body["settings"]["job_file"], "--chunk",
                                                 "1005-1008"]
    assert command["totalStepCount"] == 4
    # a submission the job type refuses (as the Manager would: a setting of the wrong type)
    body["settings"]["chunk_size"] = "4"
    (tmp_path / "fl" / "job.json").write_text(json.dumps(body))
    done = subprocess.run([_node(), os.path.join(HERE, "flamenco_standin", "compile.js"),
                           str(tmp_path / "fl" / "recast.js"), str(tmp_path / "fl" / "job.json")],
                          capture_output=True, text=True)
    assert done.returncode == 1 and 'job setting "chunk_size" should be of type int32' in done.stderr


class _Manager(BaseHTTPRequestHandler):
    answers = []  # (status, body) per request
    received = []

    def do_POST(self):  # noqa: N802 (http.server's name)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.received.append((self.path, self.headers["Content-Type"], body))
        status, answer = self.answers.pop(0)
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def manager():
    server = HTTPServer(("127.0.0.1", 0), _Manager)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Manager.answers, _Manager.received = [], []
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_flamenco_manager_takes_the_job_or_refuses_it_in_one_line(tmp_path, manager):
    job = _job(tmp_path)
    _Manager.answers = [(200, {"id": "0c2e4a3b-1111-4c5d-9e8f-0123456789ab", "status": "queued"}),
                        (422, {"code": 422, "message": "job type \"recast\" unknown; install recast.js"})]
    scripts = tmp_path / "manager" / "scripts"
    scripts.mkdir(parents=True)
    r = run_cli("farm", "flamenco", "--job", job, "--out", tmp_path / "fl", "--manager", manager + "/",
                "--install-job-type", scripts)
    assert r.returncode == 0, r.stderr
    assert "submitted: job 0c2e4a3b-1111-4c5d-9e8f-0123456789ab (queued)" in r.stdout
    (path, content_type, body), = _Manager.received
    assert path == "/api/v3/jobs" and content_type == "application/json"
    assert body == json.loads((tmp_path / "fl" / "job.json").read_text())
    assert (scripts / "recast.js").read_bytes() == open(JOB_TYPE, "rb").read()

    r = run_cli("farm", "flamenco", "--job", job, "--out", tmp_path / "fl2", "--manager", manager)
    _one_line_error(r, f'the Flamenco Manager at {manager} refused the job (HTTP 422): job type "recast" unknown')
    r = run_cli("farm", "flamenco", "--job", job, "--out", tmp_path / "fl3", "--manager", "flamenco:8080")
    _one_line_error(r, "is not a Flamenco Manager's address")
    assert not (tmp_path / "fl3").exists()


def test_a_job_type_folder_that_is_not_writable_is_one_line(tmp_path):
    job = _job(tmp_path)
    if os.geteuid() == 0:  # root writes through permission bits: a folder of a filesystem nobody writes to
        readonly = "/proc"
    else:
        readonly = tmp_path / "scripts"
        readonly.mkdir()
        readonly.chmod(0o500)
    r = run_cli("farm", "flamenco", "--job", job, "--out", tmp_path / "fl", "--install-job-type", readonly)
    _one_line_error(r, "is not writable")
    assert not (tmp_path / "fl").exists()
    r = run_cli("farm", "flamenco", "--job", job, "--out", tmp_path / "fl", "--install-job-type", tmp_path / "no")
    _one_line_error(r, "is not a folder; give the Flamenco Manager's scripts folder")


# --- every step of a shot, rendered (slow: a tiny model renders every chunk) ----------------------------------

def _customize_and_matte(tmp_path):
    from recast.core.shot.synthetic import write_synthetic_plate
    from tests.test_customize import _images

    write_synthetic_plate(str(tmp_path / "plate" / "sh010.####.exr"), 1001, 6, width=64, height=40)
    _images(tmp_path / "look")
    path = tmp_path / "job.json"
    path.write_text(json.dumps(job_dict(
        prompt="sks street", input={"mask_invert": True},
        customize={"images": "look", "token": "sks", "steps": 2, "rank": 4, "resolution": 64, "weight": 0.7},
        matte={"objects": [{"name": "ball", "points": ["1002:30,28"], "boxes": ["1005:20,20,50,38"]}]})))
    return path


@pytest.mark.slow
def test_every_step_of_a_shot_through_the_deadline_plugin(tmp_path):
    from recast.core.io.exrio import read_header

    from Deadline.Scripting import RepositoryUtils

    job = _customize_and_matte(tmp_path)
    r = run_cli("farm", "deadline", "--job", job, "--out", tmp_path / "dl", "--chunk-size", "4", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["jobs"] == ["01_customize", "02_matte", "03_depth", "04_render", "05_assemble"]
    # the workers mount the shot elsewhere: the repository's path mapping takes the job file, plate and output there
    mounted = tmp_path / "mnt"
    mounted.mkdir()
    shutil.move(tmp_path / "dl", mounted / "dl")
    shutil.move(tmp_path / "plate", mounted / "plate")
    RepositoryUtils.PathMappings = [(str(tmp_path / d), str(mounted / d)) for d in ("dl", "plate", "render")]
    try:
        plugins = dict(_run_deadline(mounted / "dl", tmp_path / "jobsdata"))
    finally:
        RepositoryUtils.PathMappings = []
    out = mounted / "render"
    assert not (tmp_path / "render").exists()
    assert listing(out) == ["lora", "matte"] + [f"sh010_recast.{f}.exr" for f in range(1001, 1007)]
    assert read_header(str(out / "sh010_recast.1003.exr")).attribute("recast/loras").startswith(
        "customize.safetensors@0.7")
    for stem, plugin in plugins.items():
        assert plugin.progress and plugin.progress[-1] == 100.0, stem
        assert plugin.status[-1].startswith("Recast: done"), (stem, plugin.status[-3:])
    render = plugins["04_render"]
    assert any(s.startswith("Recast: denoising step") for s in render.status)
    assert sum("--server" in line for _, line in render.log) == 2  # both chunks through the worker's one server
    assert any("server stopped after 2 render(s)" in line for line in render.stdout)


@pytest.mark.slow
def test_the_flamenco_job_runs_in_dependency_order_and_every_frame_lands(tmp_path):
    job = _job(tmp_path, frames=6, handles=2)
    r = run_cli("farm", "flamenco", "--job", job, "--out", tmp_path / "fl", "--chunk-size", "4")
    assert r.returncode == 0, r.stderr
    tasks = _compile(tmp_path / "fl")["tasks"]
    done = set()
    while len(done) < len(tasks):  # a Worker takes a task once every task it depends on is done
        task = next(t for t in tasks if t["name"] not in done and set(t["dependencies"]) <= done)
        for command in task["commands"]:
            exe = command["parameters"]["exe"].replace("{recast}", RECAST)  # the Manager's variable, on Linux
            run = subprocess.run([exe, *command["parameters"]["args"]], capture_output=True, text=True, timeout=600)
            assert run.returncode == 0, (task["name"], run.stdout[-2000:], run.stderr[-2000:])
        done.add(task["name"])
    assert listing(tmp_path / "render") == [f"sh010_recast.{f}.exr" for f in range(1001, 1007)]


def test_the_blender_panel_finds_the_manager_in_flamencos_own_addon():
    from types import SimpleNamespace as NS

    from recast.plugin.common.farm import flamenco_manager_url

    def addon(url):
        return NS(preferences=NS(manager_url=url))

    assert flamenco_manager_url({}) == ""  # Flamenco's add-on not installed
    assert flamenco_manager_url({"flamenco": addon(" http://manager:8080 ")}) == "http://manager:8080"
    assert flamenco_manager_url({"flamenco": addon("")}) == ""  # installed, no Manager set yet
    assert flamenco_manager_url({"bl_ext.user_default.flamenco": addon("http://m2")}) == "http://m2"  # an extension


@pytest.mark.parametrize("arg", ["plain", "with space", 'a "quoted" name', "trailing\\", "C:\\Shots\\sh 010\\",
                                 "", "back\\\\\"slash"])
def test_the_plugins_arguments_reach_recast_unchanged(arg):
    """Deadline hands the OS one argument string, split by Windows' rules: every path arrives as it was."""
    from FranticX.Processes import split_arguments

    quote = Worker(PLUGIN, {}, "/tmp").load().quote
    assert split_arguments(" ".join(quote(a) for a in ["render", arg, "--json"])) == ["render", arg, "--json"]
