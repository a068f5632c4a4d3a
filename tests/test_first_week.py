"""What a first week with Recast stumbled on (issue 27): each test is what the user saw, and what they
see now — one line on stderr, exit codes, files, help text."""

import json
import os
import re
import shlex
import subprocess
import sys

import pytest

from tests.conftest import RECAST, job_dict, run_cli


# --- presets ----------------------------------------------------------------------------------------

BUILTINS = ["default", "fast", "wan-vace-1.3b", "wan-vace-1.3b-fast", "wan-vace-14b", "wan-vace-14b-fast",
            "wan22-vace-fun-a14b", "tiny", "tiny-fast", "tiny-wan", "tiny-wan22", "tiny-wan-fast"]


def test_a_builtin_preset_with_a_dot_in_its_name_loads():
    from recast.core.models.presets import load_preset

    preset = load_preset("wan-vace-1.3b", "/nonexistent")
    assert preset.name == "wan-vace-1.3b" and preset.backend == "wan-vace"


def test_models_check_takes_the_dotted_builtin_preset(recast_cache):
    r = run_cli("models", "check", "--model", "wan-vace-1.3b")
    assert "neither a built-in preset" not in r.stderr
    assert r.stdout.startswith("preset wan-vace-1.3b")


def test_models_list_lists_every_builtin_preset_with_its_backend_and_purpose():
    r = run_cli("models", "list")
    assert r.returncode == 0, r.stderr
    rows = {line.split()[0]: line for line in r.stdout.splitlines()[1:]}
    assert sorted(rows) == sorted(BUILTINS)
    assert "wan-vace" in rows["wan-vace-1.3b"] and "Wan 2.1 VACE 1.3B" in rows["wan-vace-1.3b"]
    assert "animatediff" in rows["fast"] and "AnimateLCM" in rows["fast"]
    assert "animatediff" in rows["tiny"] and "random weights" in rows["tiny"]
    listed = json.loads(run_cli("models", "list", "--json").stdout)["presets"]
    assert [p["name"] for p in listed] == BUILTINS and all(p["backend"] and p["description"] for p in listed)


def test_models_list_of_one_preset_still_lists_its_parts():
    r = run_cli("models", "list", "--model", "default")
    assert r.returncode == 0 and r.stdout.startswith("preset default") and "controlnet" in r.stdout


@pytest.mark.parametrize("command, entry", [("models", "--model MODEL "), ("render", "--model STR ")])
def test_model_help_names_every_builtin_preset(command, entry):
    r = run_cli(command, "--help")
    text = " ".join(r.stdout.split()).replace("- ", "-")  # argparse wraps lines after a hyphen ('tiny-wan-\nfast')
    help_of_model = text[text.rindex(entry):][:700]  # its help entry, after the usage line
    for name in BUILTINS:
        assert re.search(rf"\b{re.escape(name)}\b", help_of_model), (name, help_of_model)


# --- help and messages --------------------------------------------------------------------------------

def test_seed_help_shows_its_range_in_whole_numbers():
    r = run_cli("render", "--help")
    text = " ".join(r.stdout.split())
    assert "0..4294967295" in text and "e+09" not in text


def test_a_truncated_job_file_is_one_line_without_a_doubled_at(tmp_path):
    path = tmp_path / "job.json"
    path.write_text('{"prompt": "a claymation str')
    r = run_cli("render", "--job", path)
    assert r.returncode == 1 and len(r.stderr.strip().splitlines()) == 1
    assert "at at" not in r.stderr and "Unterminated string starting at line 1, column 12" in r.stderr


# --- the farm -----------------------------------------------------------------------------------------

def _values(bundle) -> dict:
    return {v["name"]: v["value"] for v in json.loads((bundle / "parameter_values.json").read_text())["parameterValues"]}


def test_farm_takes_a_job_saved_from_flags_with_the_range_on_disk(tmp_path, plate):
    saved = tmp_path / "saved.json"
    r = run_cli("render", "--input", plate, "--output", tmp_path / "render" / "out.####.exr", "--model", "tiny",
                "--prompt", "a claymation street", "--save-job", saved, "--dry-run")
    assert r.returncode == 0, r.stderr
    assert json.loads(saved.read_text())["input"]["frames"] is None
    r = run_cli("farm", "openjd", "--job", saved, "--out", tmp_path / "bundle")
    assert r.returncode == 0, r.stderr
    assert _values(tmp_path / "bundle")["Frames"] == "1001-1006"
    assert json.loads((tmp_path / "bundle" / "job.json").read_text())["input"]["frames"] == "1001-1006"


def test_farm_frames_option_sets_the_range(tmp_path, plate):
    path = tmp_path / "job.json"
    path.write_text(json.dumps(job_dict(input={"frames": None})))
    r = run_cli("farm", "openjd", "--job", path, "--frames", "1002-1004", "--out", tmp_path / "bundle")
    assert r.returncode == 0, r.stderr
    assert _values(tmp_path / "bundle")["Frames"] == "1002-1004"


def test_farm_without_a_range_or_frames_on_disk_is_one_line(tmp_path):
    path = tmp_path / "job.json"
    path.write_text(json.dumps(job_dict(input={"frames": None})))
    r = run_cli("farm", "openjd", "--job", path, "--out", tmp_path / "bundle")
    assert r.returncode == 1 and len(r.stderr.strip().splitlines()) == 1 and "no frames match" in r.stderr
    assert not (tmp_path / "bundle").exists()


@pytest.mark.parametrize("fmt", ["openjd", "opencue"])
def test_farm_refuses_absurd_task_counts_at_once(tmp_path, fmt):
    path = tmp_path / "job.json"
    path.write_text(json.dumps(job_dict(input={"frames": "1-1000000000"})))
    r = run_cli("farm", fmt, "--job", path, "--out", tmp_path / "out", "--chunk-size", "1", "--user", "artist")
    assert r.returncode == 1 and len(r.stderr.strip().splitlines()) == 1
    assert "1000000000 render tasks" in r.stderr and "--chunk-size" in r.stderr
    assert not (tmp_path / "out").exists()
    ok = run_cli("farm", fmt, "--job", path, "--out", tmp_path / "out", "--chunk-size", "200000", "--user", "artist")
    assert ok.returncode == 0, ok.stderr


def test_braces_in_a_plates_file_name_reach_the_worker_unchanged(tmp_path):
    from recast.core.shot.synthetic import write_synthetic_plate

    write_synthetic_plate(str(tmp_path / "plate" / "sh{{Param.ChunkSet}}.####.exr"), 1001, 3, width=64, height=40)
    path = tmp_path / "job.json"
    path.write_text(json.dumps(job_dict(input={"pattern": "plate/sh{{Param.ChunkSet}}.####.exr", "frames": "1001-1003"},
                                        output={"pattern": "render/o{{x}}.####.exr"})))
    r = run_cli("farm", "openjd", "--job", path, "--out", tmp_path / "bundle")
    assert r.returncode == 0, r.stderr
    bundle = tmp_path / "bundle"
    check = subprocess.run([sys.executable, "-m", "openjd", "check", str(bundle / "template.json")],
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    # what OpenJD gives the Depth step's command, every parameter resolved as a farm would
    from openjd.model import SymbolTable, decode_job_template

    template = decode_job_template(template=json.loads((bundle / "template.json").read_text()),
                                   supported_extensions=["TASK_CHUNKING"])
    symbols = SymbolTable()
    for name, value in {**_values(bundle), "JobFile": str(bundle / "job.json")}.items():
        symbols[f"Param.{name}"] = str(value)
    depth = next(s for s in template.steps if s.name == "Depth")
    args = [a.resolve(symtab=symbols) for a in depth.script.actions.onRun.args]
    assert str(tmp_path / "plate" / "sh{{Param.ChunkSet}}.####.exr") in args
    assert str(tmp_path / "render" / "o{{x}}.####.exr") in args


def test_the_printed_openjd_run_line_works_without_openjd_on_path(tmp_path, plate):
    path = tmp_path / "job.json"
    path.write_text(json.dumps(job_dict()))
    r = run_cli("farm", "openjd", "--job", path, "--out", tmp_path / "bundle")
    argv = shlex.split(r.stdout.strip().splitlines()[-1])
    assert argv[:3] == [sys.executable, "-m", "openjd"] and argv[3] == "run"
    env = {**os.environ, "PATH": "/nonexistent"}  # a venv that is not activated: its tools are not on PATH
    help_run = subprocess.run([*argv[:3], "run", "--help"], capture_output=True, text=True, env=env)
    assert help_run.returncode == 0, help_run.stderr


def test_farm_worker_help_says_what_the_bundle_writes(tmp_path, plate, monkeypatch):
    monkeypatch.delenv("RECAST_FARM_WORKER", raising=False)
    text = " ".join(run_cli("farm", "--help").stdout.split())
    worker_help = text[text.rindex("--worker WORKER"):][:200]
    assert "RECAST_FARM_WORKER" in worker_help and "'recast' on their PATH" in worker_help
    assert "this one" not in worker_help
    path = tmp_path / "job.json"
    path.write_text(json.dumps(job_dict()))
    run_cli("farm", "openjd", "--job", path, "--out", tmp_path / "bundle")
    assert _values(tmp_path / "bundle")["RecastWorker"] == "recast"


def _cue_spec(tmp_path, *args):
    path = tmp_path / "job.json"
    path.write_text(json.dumps(job_dict()))
    out = tmp_path / f"cue{len(list(tmp_path.glob('cue*')))}"
    r = run_cli("farm", "opencue", "--job", path, "--out", out, "--user", "artist", *args)
    assert r.returncode == 0, r.stderr
    return next(out.glob("*.cuejob.xml")).read_text()


def test_opencue_spec_carries_no_placeholder_email(tmp_path, plate, monkeypatch):
    monkeypatch.delenv("RECAST_FARM_EMAIL", raising=False)
    spec = _cue_spec(tmp_path)
    assert "example.com" not in spec and "<email>" not in spec


def test_opencue_spec_takes_the_email_from_the_option_or_the_environment(tmp_path, plate, monkeypatch):
    monkeypatch.setenv("RECAST_FARM_EMAIL", "pipeline@studio.example")
    spec = _cue_spec(tmp_path)
    assert "<user>artist</user><email>pipeline@studio.example</email>" in spec
    spec = _cue_spec(tmp_path, "--email", "artist@studio.example")
    assert "<email>artist@studio.example</email>" in spec
    path = tmp_path / "job.json"
    r = run_cli("farm", "opencue", "--job", path, "--out", tmp_path / "bad", "--user", "artist", "--email", "nobody")
    assert r.returncode == 1 and "not an e-mail address" in r.stderr and not (tmp_path / "bad").exists()


# --- the terminal ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("args", [["info", "{plate}"], ["info", "--json", "{plate}"], ["models", "list"]])
def test_output_into_a_closed_pipe_ends_quietly(plate, args):
    """``recast info … | head``: the reader goes away before the output is written."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    p = subprocess.Popen(RECAST + [a.format(plate=plate) for a in args], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=env)
    p.stdout.close()  # as head does once it has its lines
    err = p.stderr.read().decode()
    assert p.wait(timeout=120) == 141 and err == ""  # 128 + SIGPIPE, as a Unix tool's; not a word on stderr


# --- recast info and what it says ----------------------------------------------------------------------

def _one_line(r):
    assert r.returncode == 1 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    return r.stderr


def test_info_of_a_path_that_does_not_exist_says_so(tmp_path):
    assert "'nosuchdir' does not exist" in _one_line(run_cli("info", "nosuchdir", cwd=tmp_path))
    assert "does not exist" in _one_line(run_cli("info", "nosuch.1001.exr", cwd=tmp_path))
    err = _one_line(run_cli("info", "nosuchdir/sh010.####.exr", cwd=tmp_path))
    assert "its folder 'nosuchdir' does not exist" in err
    assert "has no frame number" not in err


def test_an_unquoted_glob_expanded_by_the_shell_gets_a_hint_to_quote_it(plate):
    folder = os.path.dirname(plate)
    frames = sorted(os.path.join(folder, n) for n in os.listdir(folder))  # what the shell makes of plate/*.exr
    err = _one_line(run_cli("info", *frames))
    assert "got 6 paths" in err and "unquoted" in err and "quoted pattern" in err
    assert "unrecognized arguments" not in err
    assert "is a glob" in _one_line(run_cli("info", os.path.join(folder, "*.exr")))  # quoted, but a glob


def test_a_g_only_exr_is_not_said_to_lack_g(tmp_path):
    import numpy as np

    from recast.core.errors import ImageError
    from recast.core.io.exrio import read_headers
    from recast.core.shot.layers import edit_layers
    from tests.conftest import write_exr

    write_exr(tmp_path / "g.1001.exr", np.ones((8, 8, 1)), ["G"])
    with pytest.raises(ImageError) as err:
        edit_layers(read_headers(str(tmp_path / "g.1001.exr")), None, None)
    message = str(err.value)
    assert "R, G, B or Y" not in message and "R, G and B together, or Y" in message and "0: G" in message


def test_output_without_a_frame_number_is_one_clear_sentence(tmp_path, plate):
    err = _one_line(run_cli("render", "--input", plate, "--output", "out.exr", "--prompt", "x", "--model", "tiny",
                            "--dry-run", cwd=tmp_path))
    assert "expected a frame pattern with '####'" in err and "such as 'out.####.exr'; this one has no frame number" in err
    assert "expected sequence pattern" not in err and err.count("'out.exr'") == 0


def test_a_multi_part_stereo_file_names_each_view_once(tmp_path):
    import OpenImageIO as oiio

    from recast.core.shot.info import describe, format_info

    path = str(tmp_path / "st.1001.exr")
    specs = []
    for name, view, channels in (("left_rgba", "left", ("R", "G", "B", "A")), ("left_z", "left", ("Z",)),
                                 ("right_rgba", "right", ("R", "G", "B", "A")), ("right_z", "right", ("Z",))):
        s = oiio.ImageSpec(8, 8, len(channels), oiio.HALF)
        s.channelnames = channels
        s.attribute("oiio:subimagename", name)
        s.attribute("view", view)
        specs.append(s)
    out = oiio.ImageOutput.create(path)
    assert out.open(path, specs)
    for i, s in enumerate(specs):
        if i:
            assert out.open(path, s, "AppendSubimage")
        import numpy as np
        assert out.write_image(np.ones((8, 8, s.nchannels), np.float32))
    out.close()
    info = describe(str(tmp_path / "st.####.exr"))
    assert info["views"] == ["left", "right"]
    assert "views       left, right (default left)" in format_info(info)


# --- customize ----------------------------------------------------------------------------------------------

def _training_images(folder):
    import numpy as np

    from tests.conftest import write_exr

    os.makedirs(folder)
    for i in range(2):
        write_exr(os.path.join(folder, f"look_{i}.exr"), np.full((64, 64, 3), 0.2 + 0.3 * i, np.float32),
                  ["R", "G", "B"])
    return str(folder)


def test_customize_into_a_missing_folder_makes_it_and_writes_the_lora_as_frames_are_written(tmp_path, plate):
    images = _training_images(tmp_path / "images")
    out = tmp_path / "loras" / "v001" / "look.safetensors"
    r = run_cli("customize", "--images", images, "--out", out, "--model", "tiny", "--steps", 2, "--rank", 2,
                "--resolution", 64, "--device", "cpu", "--json")
    assert r.returncode == 0, r.stderr
    assert out.is_file()
    umask = os.umask(0o022)
    os.umask(umask)
    frame = tmp_path / "frame.exr"
    from recast.core.io.exrio import read_frame, write_parts

    write_parts(str(frame), [read_frame(plate.replace("####", "1001"))])
    assert oct(os.stat(out).st_mode & 0o777) == oct(os.stat(frame).st_mode & 0o777) == oct(0o666 & ~umask)


def test_customize_into_a_folder_under_a_file_is_one_line_and_writes_nothing(tmp_path):
    images = _training_images(tmp_path / "images")
    (tmp_path / "afile").write_text("x")
    r = run_cli("customize", "--images", images, "--out", tmp_path / "afile" / "sub" / "look.safetensors",
                "--model", "tiny", "--steps", 2, "--resolution", 64, "--device", "cpu")
    assert r.returncode == 1 and "is a file, not a folder" in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_the_terminal_summary_of_customize_counts_steps_not_frames():
    import io

    from recast.core.progress import Display

    screen = io.StringIO()
    d = Display("customize", stream=screen, interval=0)
    d.start(job=None, output="/x/look.safetensors", total=200, images=4, classes=0, stage="train")
    d.progress("train", 50, 200, resumed_from=50)  # a run that picked up a cancelled one's checkpoint
    d.progress("train", 51, 200, loss=0.1)
    d.done(output="/x/look.safetensors", steps=200, resumed_from=50)
    text = screen.getvalue()
    assert "frame(s) written" not in text and "/200 frames" not in text and "0 frames" not in text
    assert "warning" not in text and "resumed from step 50" in text
    assert "recast customize: 200 training step(s) (resumed from step 50) in" in text and "look.safetensors" in text


def test_a_resumed_render_says_it_resumed():
    import io

    from recast.core.progress import Display

    screen = io.StringIO()
    d = Display("render", stream=screen, interval=0)
    d.start(frames="1001-1006", total=6, skipped=3)
    d.done(frames=3, skipped=3, output="r/x.####.exr", resumed_from_step=2)
    text = screen.getvalue()
    assert "resuming: 3 frame(s) already done" in text
    assert "recast render: 3 frame(s) written (resumed: 3 frame(s) already done by an earlier run; denoising " \
           "picked up at step 2)" in text
