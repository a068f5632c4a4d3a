"""The Recast node in Nuke, against the fake ``nuke`` module in tests/fake_nuke (see its docstring).

The whole path runs for real: the fake's Read reads generated EXR plates, the node's Write
writes them out, the real ``recast`` worker renders them with the tiny preset, and the
node's Read and output show the result frames.
"""

from __future__ import annotations

import json
import os
import runpy
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import RECAST, listing, write_exr

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FAKE = os.path.join(REPO, "tests", "fake_nuke")
WORKER = f"{sys.executable} -m recast.core"


def stop_desk(folder) -> None:
    """Kill the desk service a test started in its own RECAST_DESK folder (if any)."""
    import signal

    conn = os.path.join(str(folder), "desk.json")
    try:
        with open(conn) as fh:
            os.kill(json.load(fh)["pid"], signal.SIGKILL)
    except (OSError, ValueError, KeyError):
        pass


@pytest.fixture
def nuke(monkeypatch, tmp_path):
    monkeypatch.setenv("RECAST_DESK", str(tmp_path / "desk"))  # the node renders through the desk: its own, per test
    monkeypatch.syspath_prepend(FAKE)
    import nuke as fake
    import nukescripts.panels

    from recast.plugin import nuke_node
    from recast.plugin.common import queue

    fake.fake_reset()
    nukescripts.panels._registered.clear()
    monkeypatch.setenv("RECAST_WORKER", WORKER)
    monkeypatch.setattr(queue.RENDERS, "_entries", [])
    nuke_node._active.clear()
    nuke_node._fetching.clear()
    nuke_node._known.clear()
    yield fake
    for job in list(nuke_node._active.values()):  # never leave a worker behind a failed test
        job.process.cancel(grace=5)
        job.process.wait(30)
    stop_desk(tmp_path / "desk")


def read_plate(nuke, plate, first=1001, last=1006):
    return nuke.nodes.Read(file=plate, first=first, last=last, origfirst=first, origlast=last)


def recast_node(nuke, source, out, **values):
    """The artist's way: select the plate, click Recast in the toolbar, set knobs."""
    source.setSelected(True)
    nuke.menu("Nodes").findItem("Recast/Recast").invoke()
    node = nuke.selectedNode()
    settings = {"prompt": "a claymation street at dusk", "model": "tiny", "device": "cpu", "steps": 2,
                "resolution": 64, "window_length": 4, "window_overlap": 1, "handles": 1,
                "output_folder": str(out), **values}
    for name, value in settings.items():
        node[name].setValue(value)
    return node


@pytest.fixture
def gui(nuke):
    """Nuke's start-up with Recast on NUKE_PATH: init.py, then (GUI) menu.py."""
    runpy.run_path(os.path.join(REPO, "nuke_path", "init.py"), run_name="__main__")
    runpy.run_path(os.path.join(REPO, "nuke_path", "menu.py"), run_name="__main__")
    return nuke


def finish(nuke, node, timeout=240):
    from recast.plugin import nuke_node

    assert nuke.fake_process_events(until=lambda: node.fullName() not in nuke_node._active, timeout=timeout)
    nuke.fake_process_events()


def files(folder):
    """What an artist sees there: no shot cache, no hidden notes (the version's key)."""
    return [n for n in listing(folder) if not n.startswith(".")]


# --- the fake is strict where Nuke is ----------------------------------------------------

def test_the_fake_refuses_what_nuke_refuses(nuke):
    import threading

    write = nuke.nodes.Write(file="/tmp/x.####.exr")
    with pytest.raises(NameError, match="knob fle does not exist"):
        write["fle"]
    with pytest.raises(TypeError):
        write["first"].setValue("1001")
    with pytest.raises(ValueError):
        write["datatype"].setValue("64 bit float")
    write["disable"].setValue(True)
    with pytest.raises(RuntimeError, match="disabled"):
        nuke.execute(write, 1, 1)
    with pytest.raises(RuntimeError, match="hangs Nuke"):
        nuke.executeInMainThread(print)
    errors, knob = [], write["file"]
    thread = threading.Thread(target=lambda: errors.append(pytest.raises(RuntimeError, knob.value)))
    thread.start()
    thread.join()
    assert errors and "main thread" in str(errors[0].value)
    assert nuke.nodes.Write()["channels"].value() == "rgb" and nuke.nodes.Write().knob("datatype") is None


# --- install and menus --------------------------------------------------------------------

def test_toolbar_builds_a_recast_node_on_the_selected_plate(gui, plate, tmp_path):
    nuke = gui
    read = read_plate(nuke, plate)
    node = recast_node(nuke, read, tmp_path / "out")
    assert node.Class() == "Group" and node.name() == "Recast1" and node.input(0) is read
    assert [n.name() for n in node.nodes() if n.Class() == "Input"] == ["plate", "ref", "mask"]
    writes = [n for n in node.nodes() if n.Class() == "Write"]
    assert [w.name() for w in writes] == ["plate_write", "ref_write", "mask_write"]
    assert all(w["disable"].value() for w in writes)  # never run by Render All; Recast enables them itself
    assert node.node("result").Class() == "Read"
    assert node["label"].value().startswith("not rendered")
    assert node.firstFrame() == 1001 and node.lastFrame() == 1006  # before a render the output is the plate
    assert [k.name() for k in node.knobs().values() if type(k).__name__ == "PyScript_Knob"] == [
        "train_lora", "check_models", "fetch_models", "render", "cancel", "submit", "submit_deadline", "preview",
        "variants", "review", "use_approved"]
    assert node["use_desk"].value() is True and node["live_previews"].value() is True and node["note"].value() == ""
    assert node["models"].value() == "not checked: press Check models"


def test_every_job_parameter_has_a_knob_with_the_job_default_and_doc(gui, plate, tmp_path):
    from recast.core.job import Job, WindowSpec
    import dataclasses

    node = recast_node(gui, read_plate(gui, plate), tmp_path)
    fresh = gui.nodes.Group()
    from recast.plugin import nuke_node

    nuke_node.build(fresh)
    by_field = {"window.length": "window_length", "window.overlap": "window_overlap"}
    for cls, prefix in ((Job, ""), (WindowSpec, "window.")):
        for f in dataclasses.fields(cls):
            if f.name in ("input", "output", "window", "schema", "root", "reference_image", "loras", "customize",
                          "matte"):
                continue  # the inputs, the output folder, the ref input, the LoRA slots, Train LoRA and the mask
                # input (a RecastMatte node's output) stand for these
            knob = fresh[by_field.get(prefix + f.name, f.name)]
            unset = {"steps": 0, "guidance_scale": 0.0, "cache": "", "devices": ""}  # optional: the knob's 0/"" leaves
            # them to the preset (or off)
            assert knob.value() == (unset[f.name] if f.default is None and f.name in unset else f.default), f.name
            assert knob.tooltip() == f.metadata["doc"], f.name
    for name in ("colorspace", "depth_channel", "mask_channel", "first_frame", "last_frame", "use_input_range",
                 "output_folder", "worker", "model_file", "ref_frame", "lora_1", "lora_3_weight"):
        assert fresh[name].tooltip(), name  # the input-side fields: each explained
    assert node["first_frame"].enabled() is False  # the input's range is used until unticked
    node.showControlPanel()  # the artist unticks it in the node's panel
    node["use_input_range"].setValue(False)
    assert node["first_frame"].enabled() is True


def test_queue_panel_is_registered_and_its_class_loads_from_the_registration(gui):
    import nukescripts.panels

    (widget, title), = nukescripts.panels.fake_registered().values()
    assert title == "Recast renders"
    from recast.plugin.queue_panel import QueuePanel

    assert eval(widget, {}) is QueuePanel  # Nuke evaluates the string when the panel is opened


def test_render_nodes_load_recast_without_ui(nuke, tmp_path):
    nuke.fake_reset(gui=False)  # nuke -t: Nuke runs init.py only
    runpy.run_path(os.path.join(REPO, "nuke_path", "init.py"), run_name="__main__")
    assert nuke._menus == {}
    with pytest.raises(RuntimeError, match="terminal mode"):
        nuke.menu("Nodes")  # the fake refuses UI here, so init.py made none


def test_a_checkout_on_nuke_path_imports_recast_without_torch_or_numpy(tmp_path):
    # Nuke's own Python: no site-packages (-S), so no recast install, no numpy, no torch
    code = ("import sys, runpy; sys.path.insert(0, %r); runpy.run_path(%r, run_name='__main__');"
            "import recast.plugin.nuke_node as n; from recast.core.job import Job;"
            "Job.from_dict({'input': {'pattern': 'p.####.exr', 'colorspace': 'ACES - ACEScg'},"  # checked by the worker
            "               'output': {'pattern': 'r.####.exr'}, 'prompt': 'x'});"
            "print(n.__file__); print(sorted(m for m in ('torch', 'numpy', 'OpenImageIO') if m in sys.modules))"
            % (FAKE, os.path.join(REPO, "nuke_path", "init.py")))
    out = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    path, loaded = out.stdout.splitlines()
    assert path == os.path.join(REPO, "plugin", "nuke_node.py") and loaded == "[]"


def test_a_broken_plugin_is_logged_and_nuke_starts(tmp_path, nuke, caplog, monkeypatch):
    broken = tmp_path / "studio" / "nuke_path"
    broken.mkdir(parents=True)
    for name in ("init.py", "menu.py"):
        (broken / name).write_text(open(os.path.join(REPO, "nuke_path", name)).read())
    code = ("import sys, runpy; sys.path.insert(0, %r); runpy.run_path(%r, run_name='__main__'); print('nuke started')"
            % (FAKE, str(broken / "init.py")))
    out = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == "nuke started"
    assert "Recast could not be loaded; Nuke goes on without it" in out.stderr
    monkeypatch.setitem(sys.modules, "nuke_menu", None)  # menu.py's import fails
    runpy.run_path(str(broken / "menu.py"), run_name="__main__")  # no nuke_menu beside it
    assert "Recast's menu could not be added" in caplog.text


# --- render -------------------------------------------------------------------------------

def test_render_runs_the_worker_and_the_node_shows_the_result(gui, plate, tmp_path):
    nuke = gui
    nuke.root()["colorManagement"].setValue("OCIO")
    nuke.root()["workingSpaceLUT"].setValue("ACEScg")
    out = tmp_path / "out"
    node = recast_node(nuke, read_plate(nuke, plate), out, seed=7, temporal_guidance=1.5)
    nuke.fake_press(node, "render")
    assert nuke.fake_messages() == []
    assert node["label"].value().startswith("rendering")
    finish(nuke, node)

    result = str(out / "render" / "v001" / "Recast1.####.exr")
    read = node.node("result")
    assert read["file"].value() == result and (read["first"].value(), read["last"].value()) == (1001, 1006)
    assert files(out / "render" / "v001") == [f"Recast1.{f}.exr" for f in range(1001, 1007)]
    assert files(out / "plate") == [f"Recast1.{f}.exr" for f in range(1001, 1007)]
    assert nuke.fake_messages() == [] and node["label"].value() == "rendered 1001-1006"
    assert node["status"].value().startswith("rendered 1001-1006 in ")
    job = json.load(open(out / "Recast1.recast.json"))
    assert job["input"]["colorspace"] == "ACEScg" and job["seed"] == 7 and job["temporal_guidance"] == 1.5

    # the node's output is the result: a Write after it writes the rendered pixels
    import OpenImageIO as oiio

    after = nuke.nodes.Write(file=str(tmp_path / "comp" / "c.####.exr"), inputs=[node], channels="all")
    after["create_directories"].setValue(True)
    after["datatype"].setValue("32 bit float")
    nuke.execute(after, 1003, 1003)
    ours = oiio.ImageBuf(str(out / "render" / "v001" / "Recast1.1003.exr"))
    comp = oiio.ImageBuf(str(tmp_path / "comp" / "c.1003.exr"))
    assert comp.spec().channelnames == ours.spec().channelnames == ("R", "G", "B", "A", "depth.Z")
    assert np.array_equal(comp.get_pixels(oiio.FLOAT), ours.get_pixels(oiio.FLOAT))
    assert ours.spec().get_string_attribute("recast/renderer")

    # a progress bar from start to 100%, ended (destroyed) when the render finished
    task, = nuke.fake_tasks()
    assert task.progress[-1] == 100 and task.progress == sorted(task.progress)
    assert any("denoising step 2/2" in m for m in task.messages) and task.alive is False
    from recast.plugin.common.queue import RENDERS

    (entry,) = RENDERS.entries()
    assert entry.name == "Recast1" and entry.process.state == "done" and entry.folder == str(out)

    # stale marking: any parameter or input change after the render, and back. A script's setValue with the panel
    # closed fires no knobChanged (Nuke before 17): the mark comes with the next redraw (updateUI)
    node["prompt"].setValue("an oil painting")
    assert not node["label"].value().startswith("STALE")
    nuke.fake_update_ui(node)
    assert node["label"].value().startswith("STALE") and node["tile_color"].value() == 0xC87820FF
    node.showControlPanel()  # with the panel open, knobChanged fires at once
    node["prompt"].setValue("a claymation street at dusk")
    assert node["label"].value() == "rendered"
    node.setInput(2, read_plate(nuke, plate))
    assert node["label"].value().startswith("STALE")


def test_a_plate_whose_bounding_box_moves_renders_through_the_node(gui, tmp_path):
    """A Read of a plate whose data window moves (and leaves the format) → Recast → the result keeps each
    frame's own data window; alpha and depth untouched."""
    from recast.core.io.exrio import read_frame
    from recast.core.io.layout import Window
    from tests.test_real_plates import MOVING, _moving_plate

    nuke = gui
    _moving_plate(tmp_path)
    out = tmp_path / "out"
    node = recast_node(nuke, read_plate(nuke, str(tmp_path / "plate" / "sh010.####.exr")), out,
                       colorspace="ACEScg", depth_channel="depth.Z")
    nuke.fake_press(node, "render")
    finish(nuke, node)
    assert nuke.fake_messages() == [] and node["label"].value() == "rendered 1001-1006"
    for f, (x, y, w, h) in MOVING.items():
        src = read_frame(str(tmp_path / "plate" / f"sh010.{f}.exr"))
        got = read_frame(str(out / "render" / "v001" / f"Recast1.{f}.exr"))
        assert got.header.data_window == Window(x, y, w, h)
        np.testing.assert_array_equal(got.channel("depth.Z"), src.channel("depth.Z"))


def test_prompts_reach_the_job_as_typed_though_nuke_evaluates_them_as_tcl(gui, plate, tmp_path):
    """Nuke's prompt knobs evaluate TCL in value(): '[frame]' and '$shot' would change the prompt. The node
    reads the text as typed."""
    from recast.plugin import nuke_node

    nuke = gui
    nuke.fake_tcl_vars()["shot"] = "sh010"
    node = recast_node(nuke, read_plate(nuke, plate), tmp_path / "out")
    typed = "a [frame] street in $shot, [not a command] \\[kept]"
    node["prompt"].setValue(typed)
    assert node["prompt"].value() != typed  # what Nuke would hand a script that reads value()
    job = json.load(open(nuke_node.write_job(node)))
    assert job["prompt"] == typed


def test_the_plates_header_attributes_reach_the_result(gui, tmp_path):
    """The plate Write inside the node writes all metadata, so a Read's EXR attributes reach the result."""
    from recast.core.io.exrio import read_header
    from tests.conftest import write_exr
    from recast.core.shot.synthetic import write_synthetic_plate

    nuke = gui
    pattern = str(tmp_path / "plate" / "sh.####.exr")
    for path in write_synthetic_plate(pattern, 1001, 4, width=64, height=40):
        from recast.core.io.exrio import read_frame

        f = read_frame(path)
        write_exr(path, f.pixels, f.header.channels, f.header.formats,
                  attrs=[("oiio:ColorSpace", "string", "ACEScg"), ("studio/shot", "string", "sh010"),
                         ("studio/take", "int", 3)])
    out = tmp_path / "out"
    node = recast_node(nuke, read_plate(nuke, pattern, 1001, 1004), out, colorspace="ACEScg")
    nuke.fake_press(node, "render")
    finish(nuke, node)
    assert nuke.fake_messages() == []
    h = read_header(str(out / "render" / "v001" / "Recast1.1002.exr"))
    assert h.attribute("studio/shot") == "sh010" and h.attribute("studio/take") == 3


def test_a_new_render_is_a_new_version_and_never_changes_what_an_earlier_one_shows(gui, plate, tmp_path):
    nuke = gui
    out = tmp_path / "out"
    node = recast_node(nuke, read_plate(nuke, plate), out)
    nuke.fake_press(node, "render")
    finish(nuke, node)
    v1 = out / "render" / "v001"
    stamps = {n: os.stat(v1 / n).st_mtime_ns for n in files(v1)}
    assert len(stamps) == 6 and node["version"].value() == 1
    node["prompt"].setValue("an oil painting")
    nuke.fake_press(node, "render")
    finish(nuke, node)
    assert files(out / "render" / "v002") == [f"Recast1.{f}.exr" for f in range(1001, 1007)]
    assert {n: os.stat(v1 / n).st_mtime_ns for n in files(v1)} == stamps  # the first render untouched
    assert node.node("result")["file"].value().endswith(os.path.join("v002", "Recast1.####.exr"))
    node["version"].setValue(1)  # back to the first look, by a script (panel closed): shown on the next redraw
    nuke.fake_update_ui(node)
    assert node.node("result")["file"].value().endswith(os.path.join("v001", "Recast1.####.exr"))
    node.showControlPanel()  # the artist picks it in the panel: at once
    node["version"].setValue(2)
    assert node.node("result")["file"].value().endswith(os.path.join("v002", "Recast1.####.exr"))
    # the same values again (a re-press, a resume after a cancel) render into the newest version, no v003
    nuke.fake_press(node, "render")
    finish(nuke, node)
    assert sorted(os.listdir(out / "render")) == ["v001", "v002"] and node["version"].value() == 2


def test_the_job_file_is_the_one_the_cli_builds_from_the_same_values(gui, plate, tmp_path):
    nuke = gui
    ref = tmp_path / "ref.1001.exr"
    write_exr(ref, np.full((8, 8, 4), 0.25, np.float32), ("R", "G", "B", "A"))
    matte = str(tmp_path / "matte" / "m.####.exr")
    os.makedirs(os.path.dirname(matte))
    for f in range(1001, 1007):
        write_exr(matte.replace("####", str(f)), np.ones((40, 64, 1), np.float32), ("A",))
    values = dict(prompt="a 'claymation' street, \"dusk\" $HOME `x`\nsecond line, été", negative_prompt="blur",
                  reference_weight=0.8, structure_level=5, structure_weight=0.7, strength=0.6, guidance_scale=9.0,
                  temporal_guidance=1.25, steps=3, seed=99, device="cpu", resolution=128, precision="fp32",
                  memory="low", window_length=8, window_overlap=2, handles=3, colorspace="ACEScg",
                  depth_channel="depth.Z", mask_channel="A")
    out = tmp_path / "out"
    node = recast_node(nuke, read_plate(nuke, plate), out, **values)
    node["use_input_range"].setValue(False)
    node["first_frame"].setValue(1002)
    node["last_frame"].setValue(1005)
    node.setInput(1, read_plate(nuke, str(ref).replace("1001", "####"), 1001, 1001))
    node.setInput(2, read_plate(nuke, matte))
    from recast.plugin import nuke_node

    path = nuke_node.write_job(node)
    assert path == str(out / "Recast1.recast.json")

    flags = []
    for name, value in values.items():
        flags += ["--" + name.replace("_", "-"), str(value)]
    cli_job = tmp_path / "cli.json"
    run = subprocess.run(RECAST + ["render", "--dry-run", "--save-job", str(cli_job), "--model", "tiny",
                                   "--input", str(out / "plate" / "Recast1.####.exr"), "--input-frames", "1002-1005",
                                   "--output", str(out / "render" / "v001" / "Recast1.####.exr"),
                                   "--reference-image", str(out / "ref" / "Recast1_ref.1001.exr"),
                                   "--mask-pattern", str(out / "mask" / "Recast1_mask.####.exr"), *flags],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert json.load(open(path)) == json.load(open(cli_job))
    assert files(out / "plate") == [f"Recast1.{f}.exr" for f in range(1002, 1006)]
    assert files(out / "ref") == ["Recast1_ref.1001.exr"] and len(files(out / "mask")) == 4


def test_cancel_from_the_button_and_from_the_progress_bar_then_render_again(gui, plate, tmp_path):
    nuke = gui
    out = tmp_path / "out"
    node = recast_node(nuke, read_plate(nuke, plate), out, steps=40)
    for how in ("button", "progress bar"):
        nuke.fake_press(node, "render")
        task = nuke.fake_tasks()[-1]
        assert nuke.fake_process_events(until=lambda: any("denoising" in m for m in task.messages), timeout=120)
        if how == "button":
            nuke.fake_press(node, "cancel")
        else:
            task.cancelled = True  # the artist clicks the progress bar's cancel
        finish(nuke, node)
        assert node["status"].value().startswith("cancelled") and nuke.fake_messages() == []
        assert node.node("result")["file"].value() == "" and files(out / "render" / "v001") == []
        assert node["label"].value().startswith("rendering") is False
    node["steps"].setValue(2)  # changed values: a new version (v001 holds the cancelled 40-step render's state)
    nuke.fake_press(node, "render")
    finish(nuke, node)
    assert node["label"].value() == "rendered 1001-1006" and len(files(out / "render" / "v002")) == 6


def test_deleting_the_node_while_it_renders_leaves_the_render_in_the_queue(gui, plate, tmp_path):
    nuke = gui
    node = recast_node(nuke, read_plate(nuke, plate), tmp_path / "out")
    nuke.fake_press(node, "render")
    nuke.delete(node)
    from recast.plugin import nuke_node
    from recast.plugin.common.queue import RENDERS

    assert nuke.fake_process_events(until=lambda: not nuke_node._active, timeout=240)
    assert RENDERS.entries()[0].process.state == "done" and len(files(tmp_path / "out" / "render" / "v001")) == 6
    assert nuke.fake_messages() == []


def test_a_failing_worker_shows_its_one_line_and_log_and_the_node_stays_usable(gui, plate, tmp_path):
    nuke = gui
    out = tmp_path / "out"
    node = recast_node(nuke, read_plate(nuke, plate), out, device="cuda")  # this machine has no GPU
    nuke.fake_press(node, "render")
    finish(nuke, node)
    (message,) = nuke.fake_messages()
    logs = files(out / "logs")
    assert message.startswith("Recast1: ") and "cuda" in message.lower() and "\n" not in message
    assert len(logs) == 1 and str(out / "logs" / logs[0]) in message
    assert node["status"].value().startswith("failed: ") and node["label"].value() == "render failed"
    node["device"].setValue("cpu")
    nuke.fake_press(node, "render")
    finish(nuke, node)
    assert node["label"].value() == "rendered 1001-1006"


@pytest.mark.parametrize("change, expected", [
    ({"prompt": ""}, "Recast1: no prompt: type one, or connect a reference image to the 'ref' input"),
    ({"worker": "/nowhere/recast"}, "Recast1: the Recast worker '/nowhere/recast' was not found"),
    ({"window_overlap": 4}, "Recast1: job field 'window.overlap': 4 is not allowed; expected less than"),
    ({"use_input_range": False, "first_frame": 1010, "last_frame": 1001}, "Recast1: frame range 1010-1001 is empty"),
    ({"model": "preset file"}, "Recast1: model is 'preset file' but no preset file is set"),
    ({"output_folder": ""}, "Recast1: no output folder: set 'output folder', or save the script first"),
    ({"output_folder": "/sys/recast-test/out"}, "Recast1: could not write the plate input: plate_write: Can't write"),
])
def test_bad_values_are_one_line_and_write_nothing(gui, plate, tmp_path, change, expected):
    nuke = gui
    node = recast_node(nuke, read_plate(nuke, plate), tmp_path / "out")
    for name, value in change.items():
        node[name].setValue(value)
    nuke.fake_press(node, "render")
    (message,) = nuke.fake_messages()
    assert message.startswith(expected) and "\n" not in message
    assert not os.path.exists(tmp_path / "out") and nuke.fake_executed() == [] and nuke.fake_tasks() == []
    assert not os.path.exists("/sys/recast-test")
    assert node["label"].value().startswith("not rendered")


def test_no_plate(gui, tmp_path):
    nuke = gui
    nuke.menu("Nodes").findItem("Recast/Recast").invoke()
    node = nuke.selectedNode()
    node["output_folder"].setValue(str(tmp_path / "out"))
    nuke.fake_press(node, "render")
    nuke.fake_press(node, "submit")
    nuke.fake_press(node, "cancel")
    assert nuke.fake_messages() == ["Recast1: no plate: connect the shot to the 'plate' input"] * 2 + [
        "Recast1: not rendering"]
    assert not os.path.exists(tmp_path / "out")


def test_submit_to_farm_writes_the_plate_the_job_and_a_checked_openjd_bundle(gui, plate, tmp_path):
    nuke = gui
    out = tmp_path / "out"
    node = recast_node(nuke, read_plate(nuke, plate), out, prompt="it's a \"dusk\" $SHOT")
    nuke.fake_press(node, "submit")
    (message,) = nuke.fake_messages()
    bundle = out / "farm_openjd"
    assert message.startswith(f"Recast1: farm bundle written to {bundle}; submit it with: deadline bundle submit "
                              f"{bundle}; or run it here with: ")
    assert " -m openjd run " in message  # the worker's own openjd-cli, not one on PATH
    assert sorted(os.listdir(bundle)) == ["job.json", "parameter_values.json", "template.json"]
    assert json.load(open(bundle / "job.json"))["prompt"] == "it's a \"dusk\" $SHOT"
    assert len(files(out / "plate")) == 6 and files(out / "render" / "v001") == []  # the farm renders into v001
    assert json.load(open(bundle / "job.json"))["output"]["pattern"] == str(out / "render" / "v001" / "Recast1.####.exr")
    check = subprocess.run([os.path.join(os.path.dirname(sys.executable), "openjd"), "check",
                            str(bundle / "template.json")], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr


def test_submit_to_deadline_submits_the_jobs_with_the_farm_settings(gui, plate, tmp_path, monkeypatch):
    from tests.test_farm_onprem import _fake_deadlinecommand

    nuke = gui
    out = tmp_path / "out"
    node = recast_node(nuke, read_plate(nuke, plate), out, farm_chunk_size=4, deadline_pool="gpu",
                       deadline_priority=80)
    monkeypatch.delenv("DEADLINE_PATH", raising=False)
    monkeypatch.setenv("PATH", os.path.dirname(sys.executable) + ":/usr/bin:/bin")
    nuke.fake_press(node, "submit_deadline")  # no Deadline client on this machine: one line, nothing submitted
    (message,) = nuke.fake_messages()
    assert message.startswith("Recast1: deadlinecommand is not on PATH") and "\n" not in message
    assert not (out / "farm_deadline").exists()
    log = _fake_deadlinecommand(tmp_path, monkeypatch)
    nuke.fake_press(node, "submit_deadline")
    message = nuke.fake_messages()[-1]
    folder = out / "farm_deadline"
    assert message == (f"Recast1: submitted to Deadline: 3 jobs (01_depth, 02_render, 03_assemble), ids "
                       f"{', '.join('65f1c0d2e4b0a1%010d' % i for i in range(3))}; job files in {folder}")
    (argv,) = [json.loads(line) for line in log.read_text().splitlines()]
    assert argv[:3] == ["-SubmitMultipleJobs", "-dependent", "-job"] and argv.count("-job") == 3
    info = dict(line.split("=", 1) for line in open(folder / "02_render_job_info.job").read().splitlines())
    assert (info["ChunkSize"], info["Pool"], info["Priority"], info["Frames"]) == ("4", "gpu", "80", "1001-1006")
    assert info["OutputFilename0"] == "Recast1.####.exr"  # Monitor's View Output: the node's next version
    assert json.load(open(folder / "job.json"))["output"]["pattern"] == str(out / "render" / "v001" / "Recast1.####.exr")


def test_default_output_folder_is_beside_the_saved_script(gui, plate, tmp_path):
    nuke = gui
    nuke.root()["name"].setValue(str(tmp_path / "shots" / "sh010_comp_v003.nk"))
    node = recast_node(gui, read_plate(nuke, plate), "")
    from recast.plugin import nuke_node

    assert nuke_node.write_job(node) == str(tmp_path / "shots" / "recast" / "Recast1" / "Recast1.recast.json")


# --- which model parts the worker has, and fetching them from the node -----------------------

def test_the_node_shows_missing_model_parts_and_fetches_them_in_the_background(gui, plate, tmp_path, fake_hub):
    from recast.plugin import nuke_node
    from recast.plugin.common.queue import RENDERS

    nuke, (_, preset) = gui, fake_hub
    node = recast_node(nuke, read_plate(nuke, plate), tmp_path / "out", model="preset file", model_file=preset)
    assert node["models"].value().startswith("not checked")
    # a render now fails on the missing parts, and says what to press
    nuke.fake_press(node, "render")
    finish(nuke, node)
    (message,) = nuke.fake_messages()
    assert "is not in the Hugging Face cache" in message and "Fetch models downloads it" in message
    assert "\n" not in message and node["label"].value() == "render failed"
    # the failure asked the worker which parts are there: the models line says it
    assert nuke.fake_process_events(until=lambda: "parts missing" in node["models"].value(), timeout=60)
    assert node["models"].value() == ("models 'hubtiny': 7 of 7 parts missing (base, controlnet, motion_adapter, "
                                      "ip_adapter, image_encoder, depth, clip); Fetch models downloads them")
    nuke.fake_press(node, "fetch_models")
    task = nuke.fake_tasks()[-1]
    assert task.name == "Recast: fetching models 'hubtiny'"
    (entry,) = [e for e in RENDERS.entries() if e.name.startswith("fetch models")]
    assert entry.process.unit == "parts"
    assert nuke.fake_process_events(until=lambda: not nuke_node._fetching, timeout=120)
    assert nuke.fake_process_events(until=lambda: "present" in node["models"].value(), timeout=60)
    assert node["models"].value().startswith("models 'hubtiny': all 7 parts present (")
    assert any(m.startswith("fetching model parts: base · 0/7 parts") for m in task.messages)
    assert task.progress[-1] == 100 and entry.process.state == "done" and entry.process.frames_done == 7
    assert nuke.fake_messages() == [message]  # the fetch itself said nothing in a box
    # and the same button press renders now
    nuke.fake_press(node, "render")
    finish(nuke, node)
    assert node["label"].value() == "rendered 1001-1006"


def test_a_fetch_cancelled_from_its_progress_bar_says_so_and_fetching_again_finishes(gui, plate, tmp_path,
                                                                                    fake_hub):
    import time

    from recast.plugin import nuke_node

    nuke, (hub, preset) = gui, fake_hub
    hub.delay = lambda: time.sleep(0.3)
    node = recast_node(nuke, read_plate(nuke, plate), tmp_path / "out", model="preset file", model_file=preset)
    nuke.fake_press(node, "fetch_models")
    nuke.fake_press(node, "fetch_models")  # twice: one fetch of a preset at a time
    assert nuke.fake_messages() == ["Recast1: the models of 'hubtiny' are being fetched already"]
    task = nuke.fake_tasks()[-1]
    assert nuke.fake_process_events(until=lambda: task.progress, timeout=60)
    task.cancelled = True
    assert nuke.fake_process_events(until=lambda: not nuke_node._fetching, timeout=60)
    assert node["models"].value() == "models 'hubtiny': fetch cancelled; Fetch models resumes it"
    hub.delay = None
    nuke.fake_press(node, "fetch_models")
    assert nuke.fake_process_events(until=lambda: "all 7 parts present" in node["models"].value(), timeout=120)


def test_opening_the_panel_or_choosing_another_model_checks_the_models(gui, plate, tmp_path):
    nuke = gui
    node = recast_node(nuke, read_plate(nuke, plate), tmp_path / "out")
    node.showControlPanel()
    assert nuke.fake_process_events(until=lambda: "present" in node["models"].value(), timeout=60)
    assert node["models"].value().startswith("models 'tiny': all 8 parts present")
    node["model"].setValue("preset file")  # no file yet: said at once, nothing asked
    assert node["models"].value() == "model is 'preset file' but no preset file is set"
    node["model_file"].setValue(str(tmp_path / "nowhere.toml"))
    assert nuke.fake_process_events(until=lambda: "cannot check" in node["models"].value(), timeout=60)
    assert "nowhere.toml" in node["models"].value() and "\n" not in node["models"].value()


# --- Train LoRA: customization from the node ------------------------------------------------

def test_train_lora_on_the_plate_frames_fills_a_slot_and_the_render_uses_it(gui, tmp_path):
    from recast.core.shot.synthetic import write_synthetic_plate
    from recast.plugin import nuke_node
    from recast.plugin.common.queue import RENDERS

    nuke = gui
    plate = str(tmp_path / "plate" / "sh030.####.exr")
    write_synthetic_plate(plate, 1001, 6, width=96, height=64)  # training wants 64 px on each side
    out = tmp_path / "out"
    node = recast_node(nuke, read_plate(nuke, plate), out, train_token="sks clay", train_steps=3,
                       use_input_range=False, first_frame=1001, last_frame=1003)
    nuke.fake_press(node, "train_lora")
    task = nuke.fake_tasks()[-1]
    assert task.name == "Recast Recast1: training LoRA"
    nuke.fake_press(node, "render")  # one thing at a time
    assert nuke.fake_messages()[-1] == "Recast1: a LoRA of this node is training; wait for it, or cancel it first"
    assert nuke.fake_process_events(until=lambda: not nuke_node._training, timeout=120)
    lora = str(out / "lora" / "Recast1_sks_clay.safetensors")
    assert node["status"].value().startswith(f"LoRA trained: {lora}, in slot 1; use 'sks clay' in the prompt")
    assert node["lora_1"].value() == lora and node["lora_1_weight"].value() == 1.0 and os.path.isfile(lora)
    assert any("training" in m and "steps" in m for m in task.messages) and task.progress[-1] == 100
    (entry,) = [e for e in RENDERS.entries() if e.name.startswith("train LoRA")]
    assert entry.process.unit == "steps" and entry.process.frames_done == 3
    assert files(out / "plate") == [f"Recast1.{f}.exr" for f in (1001, 1002, 1003)]
    # the render uses it: its frames say which LoRA, with its hash
    node["prompt"].setValue("sks clay street")
    nuke.fake_press(node, "render")
    finish(nuke, node)
    assert node["label"].value() == "rendered 1001-1003"
    from recast.core.io.exrio import read_header

    note = read_header(str(out / "render" / "v001" / "Recast1.1001.exr")).attribute("recast/loras")
    assert note.startswith("Recast1_sks_clay.safetensors@1 sha256:")
    # a training cancelled from the Cancel button says how to resume
    node["train_steps"].setValue(400)
    nuke.fake_press(node, "train_lora")
    task = nuke.fake_tasks()[-1]
    assert nuke.fake_process_events(until=lambda: any("training" in m for m in task.messages), timeout=120)
    nuke.fake_press(node, "cancel")
    assert nuke.fake_process_events(until=lambda: not nuke_node._training, timeout=120)
    assert node["status"].value() == "training cancelled; Train LoRA with the same settings resumes it"
    assert os.path.isfile(lora) and node["lora_1"].value() == lora  # the earlier LoRA is untouched


# --- scripts saved before the host code moved into plugin/nuke/ ----------------------------------

#: what a Recast node saved in a .nk script holds, verbatim (the callbacks and buttons call recast.plugin.nuke_node)
SAVED_CALLBACKS = {
    "knobChanged": "try:\n    import recast.plugin.nuke_node as _recast\nexcept ImportError:\n    _recast = None\n"
                   "if _recast is not None:\n    _recast.knob_changed(nuke.thisNode(), nuke.thisKnob())\n",
    "updateUI": "try:\n    import recast.plugin.nuke_node as _recast\nexcept ImportError:\n    _recast = None\n"
                "if _recast is not None:\n    _recast.update_ui(nuke.thisNode())\n"}
SAVED_BUTTON = "import recast.plugin.nuke_node as _recast\n_recast.{}(nuke.thisNode())"
SAVED_MATTE_BUTTON = "import recast.plugin.nuke_matte as _matte\n_matte.{}(nuke.thisNode())"


def test_a_script_saved_with_the_old_module_paths_loads_and_works(gui, plate, tmp_path):
    """Saved scripts hold module paths (the knobs' callbacks and buttons, the panel's registration): nodes built now
    save exactly those, and a node restored with them works: its panel opens (knobChanged), it redraws (updateUI),
    its buttons run."""
    nuke = gui
    from recast.plugin import nuke_matte

    node = recast_node(nuke, read_plate(nuke, plate), tmp_path / "out")
    buttons = [k for k in node.knobs().values() if type(k).__name__ == "PyScript_Knob"]
    for name, code in SAVED_CALLBACKS.items():
        assert node[name].value() == code
    assert [k.value() for k in buttons] == [SAVED_BUTTON.format(k.name()) for k in buttons]
    matte = nuke.nodes.Group()
    nuke_matte.build(matte)
    matte_buttons = [k for k in matte.knobs().values() if type(k).__name__ == "PyScript_Knob"]
    assert [k.value() for k in matte_buttons] == [SAVED_MATTE_BUTTON.format(k.name()) for k in matte_buttons]

    # a node as a saved script restores it: every callback and button set from the saved text
    for name, code in SAVED_CALLBACKS.items():
        node[name].setValue(code)
    for k in buttons:
        k.setValue(SAVED_BUTTON.format(k.name()))
    node["model"].setValue("preset file")
    node.showControlPanel()  # knobChanged with 'showPanel': the models line answers
    assert node["models"].value() == "model is 'preset file' but no preset file is set"
    nuke.fake_update_ui(node)  # updateUI runs without error
    nuke.fake_press(node, "cancel")
    assert nuke.fake_messages()[-1] == "Recast1: not rendering"
    nuke.fake_press(node, "render")
    assert nuke.fake_messages()[-1] == "Recast1: model is 'preset file' but no preset file is set"
    matte["prompts"].setValue("1001:3,4")
    nuke.fake_press(matte, "clear_points")
    assert matte["prompts"].value() == ""
    nuke.fake_press(matte, "cancel")
    assert nuke.fake_messages()[-1].endswith(": not making a matte")


# --- iterate in seconds: desk, live previews, previews, variants (issue 28) ----------------

def _pixels(path):
    import OpenImageIO as oiio

    return np.array(oiio.ImageBuf(str(path)).get_pixels(oiio.FLOAT))


def _write_after(nuke, node, path, frame, channels="rgba"):
    """What a Write after ``node`` writes at ``frame``: the pixels the node shows."""
    after = nuke.nodes.Write(file=str(path), inputs=[node], channels=channels)
    after["create_directories"].setValue(True)
    after["datatype"].setValue("32 bit float")
    nuke.execute(after, frame, frame)
    return _pixels(str(path).replace("####", str(frame)))


@pytest.mark.slow  # the default run stays within 10 minutes; CI runs the slow tier too
def test_preview_through_the_desk_shows_live_previews_then_a_preview_version(gui, plate, tmp_path):
    nuke = gui
    out = tmp_path / "out"
    node = recast_node(nuke, read_plate(nuke, plate), out)
    nuke.fake_press(node, "preview")
    assert nuke.fake_messages() == [] and node["label"].value().startswith("previewing")
    from recast.plugin import nuke_node

    shown = []

    def live():  # what the node shows while the preview renders
        show = node.node("show")
        if int(show["which"].value()) == 2 and node.node("live")["file"].value():
            shown.append(node.node("live")["file"].value())
        return node.fullName() not in nuke_node._active

    assert nuke.fake_process_events(until=live, timeout=240)
    nuke.fake_process_events()
    assert nuke.fake_messages() == [], nuke.fake_messages()
    (pattern,) = set(shown)  # the live previews' Read, on the worker's preview.####.png
    assert pattern.endswith(os.path.join("preview.####.png")) and "recast_cache" in pattern
    assert os.path.isfile(pattern.replace("####", "1001"))
    version = out / "recast_previews" / "v001"
    assert files(version) == ["Recast1.1001.exr", "Recast1.1002.exr", "Recast1.1003.exr", "Recast1.1004.exr",
                              "job.json"]  # the first window, never the render's folder
    assert not (out / "render").exists() and node["version"].value() == 0
    assert json.load(open(version / "job.json"))["resolution"] == 64
    look = node.node("look")
    assert look["file"].value() == str(version / "Recast1.####.exr")
    assert (look["first"].value(), look["last"].value()) == (1001, 1004)
    assert int(node.node("show")["which"].value()) == 3 and node["look"].value() == "preview v001"
    assert node["look"].values() == ["render", "preview v001"]
    assert node["label"].value() == "preview v001 1001-1004" and node["note"].value() == ""
    from recast.plugin.common.queue import RENDERS

    (entry,) = RENDERS.entries()
    kinds = [e["event"] for e in entry.process.events]
    assert kinds[:3] == ["version", "desk", "queued"] and "preview" in kinds and kinds[-1] == "done"  # through the desk
    # the node's output is the preview's pixels
    np.testing.assert_array_equal(_write_after(nuke, node, tmp_path / "c" / "c.####.exr", 1002),
                                  _pixels(version / "Recast1.1002.exr")[..., :4])
    # back to the render (none yet: the plate), and to the preview again, from the panel
    node.showControlPanel()
    node["look"].setValue("render")
    assert int(node.node("show")["which"].value()) == 0
    node["look"].setValue("preview v001")
    assert int(node.node("show")["which"].value()) == 3
    # a second preview is a new version; the first stays
    nuke.fake_press(node, "preview")
    finish(nuke, node)
    assert sorted(os.listdir(out / "recast_previews")) == ["v001", "v002"]
    assert node["look"].values() == ["render", "preview v001", "preview v002"]
    assert node.node("look")["file"].value() == str(out / "recast_previews" / "v002" / "Recast1.####.exr")


@pytest.mark.slow  # the default run stays within 10 minutes; CI runs the slow tier too
def test_variants_make_a_read_per_variant_behind_a_switch_and_a_contact_sheet(gui, plate, tmp_path):
    nuke = gui
    out = tmp_path / "out"
    node = recast_node(nuke, read_plate(nuke, plate), out, use_desk=False, live_previews=False)
    node["variant_prompts"].setValue("chalk\n\n  bronze statue  \n")
    nuke.fake_press(node, "variants")
    assert nuke.fake_messages() == [] and node["label"].value().startswith("rendering variants")
    finish(nuke, node)
    assert nuke.fake_messages() == [], nuke.fake_messages()
    v1, v2 = (out / "recast_variants" / f"v00{k}" for k in (1, 2))
    for folder, prompt in ((v1, "chalk"), (v2, "bronze statue")):
        assert files(folder) == [f"Recast1.{f}.exr" for f in range(1001, 1005)] + ["job.json"]
        assert json.load(open(folder / "job.json"))["prompt"] == prompt
    reads = [nuke.toNode("Recast1_v001"), nuke.toNode("Recast1_v002")]
    assert [r["label"].value() for r in reads] == ["chalk", "bronze statue"]
    assert [r["file"].value() for r in reads] == [str(v1 / "Recast1.####.exr"), str(v2 / "Recast1.####.exr")]
    switch, sheet = nuke.toNode("Recast1_variants"), nuke.toNode("Recast1_contact")
    assert switch.Class() == "Switch" and [switch.input(i) for i in range(2)] == reads
    assert switch["label"].value() == "0: chalk\n1: bronze statue"
    assert sheet.Class() == "ContactSheet" and [sheet.input(i) for i in range(2)] == reads
    assert (sheet["columns"].value(), sheet["rows"].value()) == (2, 1)
    assert (sheet["width"].value(), sheet["height"].value()) == (128, 40)
    assert node["look"].values() == ["render", "variant v001: chalk", "variant v002: bronze statue"]
    assert node["status"].value().startswith("2 variants (v001-v002) in ")
    assert not (out / "render").exists() and node["note"].value() == ""
    # what the artist sees: the Switch shows a variant's frames; the sheet shows both, side by side
    first = _pixels(v1 / "Recast1.1002.exr")[..., :4]
    second = _pixels(v2 / "Recast1.1002.exr")[..., :4]
    assert not np.array_equal(first, second)
    np.testing.assert_array_equal(_write_after(nuke, switch, tmp_path / "s" / "s.####.exr", 1002), first)
    switch["which"].setValue(1)
    np.testing.assert_array_equal(_write_after(nuke, switch, tmp_path / "t" / "t.####.exr", 1002), second)
    grid = _write_after(nuke, sheet, tmp_path / "g" / "g.####.exr", 1002)
    assert grid.shape == (40, 128, 4)
    np.testing.assert_allclose(grid[:, :64], first, atol=1e-5)
    np.testing.assert_allclose(grid[:, 64:], second, atol=1e-5)
    # the node shows a variant from its look menu
    node.showControlPanel()
    node["look"].setValue("variant v002: bronze statue")
    assert node.node("look")["file"].value() == str(v2 / "Recast1.####.exr")
    # a second press replaces the Reads (the frames stay on disk), behind the same Switch and sheet
    node["variant_prompts"].setValue("paper")
    nuke.fake_press(node, "variants")
    finish(nuke, node)
    assert nuke.toNode("Recast1_v001") is None and nuke.toNode("Recast1_v003")["label"].value() == "paper"
    assert switch.inputs() == 1 and sheet.inputs() == 1 and os.path.isdir(v1)


def test_variants_without_prompts_is_one_line_and_starts_nothing(gui, plate, tmp_path):
    nuke = gui
    node = recast_node(nuke, read_plate(nuke, plate), tmp_path / "out")
    nuke.fake_press(node, "variants")
    (message,) = nuke.fake_messages()
    assert "no variant prompts" in message and not (tmp_path / "out").exists()


def test_a_desk_that_cannot_start_renders_here_and_says_so_in_the_note(gui, plate, tmp_path):
    nuke = gui
    desk = tmp_path / "desk"
    desk.mkdir(mode=0o700)
    os.chown(desk, 12345, 12345)  # another account's desk folder: the desk cannot be used
    try:
        out = tmp_path / "out"
        node = recast_node(nuke, read_plate(nuke, plate), out)
        nuke.fake_press(node, "render")
        finish(nuke, node)
        assert nuke.fake_messages() == [] and node["label"].value() == "rendered 1001-1006"
        assert files(out / "render" / "v001") == [f"Recast1.{f}.exr" for f in range(1001, 1007)]
        note = node["note"].value()
        assert note.startswith("the desk service cannot start") and note.endswith("rendering here instead")
        assert "belongs to another user (uid 12345)" in note and "\n" not in note
        assert not (desk / "desk.json").exists()
    finally:
        os.chown(desk, os.getuid(), os.getgid())


# --- the review from the node, and the approved version shown (issue 29) -------------------

def _review_data(page) -> dict:
    return json.loads(open(os.path.join(os.path.dirname(page), "data.js")).read().split("=", 1)[1].rstrip().rstrip(";"))


def _picks(path, data, approve=(), plate=None):
    """A decision file as the review page exports it (its schema and fields), approving the versions ``approve``."""
    decisions = [{"version": v["key"], "title": v["title"], "job": v["job"], "output": v["pattern"],
                  "labels": v["labels"], "decision": "approved" if v["key"] in approve else None, "note": "ok"}
                 for v in data["versions"] if v["kind"] != "plate"]
    path.write_text(json.dumps({"schema": "recast.review-decisions/1", "job": data["job"],
                                "plate": plate or data["plate"], "exported": "2026-12-06T05:00:00Z",
                                "decisions": decisions}))
    return str(path)


def test_review_opens_the_page_and_use_approved_shows_the_approved_version(gui, plate, tmp_path, monkeypatch):
    """The node's work on disk as its buttons leave it (the render's v001 and a variant, with their jobs; frames
    copied from the plate: the review only reads them), reviewed from the Review button and switched by Use
    approved to the version a decision file approves."""
    import shutil

    from recast.plugin import nuke_node
    from recast.plugin.common import review as host_review
    from recast.plugin.nuke.review import REVIEWING

    nuke = gui
    out = tmp_path / "out"
    node = recast_node(nuke, read_plate(nuke, plate, 1001, 1004), out)
    nuke.fake_press(node, "review")  # nothing rendered yet
    assert nuke.fake_messages() == ["Recast1: nothing to review yet: render, preview or make variants first"]
    job = json.load(open(nuke_node.write_job(node)))
    variant = out / "recast_variants" / "v001"
    variant.mkdir(parents=True)
    looks_job = {**job, "output": {"pattern": str(out / "Recast1.####.exr")}}
    (out / "Recast1.variants.recast.json").write_text(json.dumps(looks_job))
    (variant / "job.json").write_text(json.dumps({**job, "prompt": "chalk",
                                                  "output": {"pattern": str(variant / "Recast1.####.exr")}}))
    for f in range(1001, 1005):
        shutil.copyfile(out / "plate" / f"Recast1.{f}.exr", out / "render" / "v001" / f"Recast1.{f}.exr")
        shutil.copyfile(out / "plate" / f"Recast1.{f}.exr", variant / f"Recast1.{f}.exr")
    opened = []
    monkeypatch.setattr(host_review, "OPEN", opened.append)  # the default browser, as the button calls it
    before = len(nuke.fake_messages())  # the fake keeps every message: only those from here on count
    nuke.fake_press(node, "review")
    assert nuke.fake_process_events(until=lambda: node.fullName() not in REVIEWING, timeout=120)
    nuke.fake_process_events()
    assert nuke.fake_messages()[before:] == []
    page = out / "review" / "index.html"
    assert opened == [page.as_uri()] and page.is_file()
    assert node["status"].value() == f"review: {page} (opened in the browser)"
    data = _review_data(str(page))
    assert [v["key"] for v in data["versions"]] == ["plate", "v001", "c1"]  # the variant, and the render compared
    # Use approved, from a file chooser: the variant the file approves is what the node shows
    nuke.fake_answer_filename(_picks(tmp_path / "picks.json", data, approve=("v001",)))
    nuke.fake_press(node, "use_approved")
    assert nuke.fake_messages()[before:] == [] and len(nuke.fake_asked_filenames()) == 1
    assert node["look"].value() == "variant v001: chalk" and int(node.node("show")["which"].value()) == 3
    assert node.node("look")["file"].value() == str(variant / "Recast1.####.exr")
    assert node["status"].value() == "showing the approved variant v001: chalk — note: ok"
    # from the decisions file knob: the render approved, its version shown
    node["decisions"].setValue(_picks(tmp_path / "render.json", data, approve=("c1",)))
    nuke.fake_press(node, "use_approved")
    assert nuke.fake_messages()[before:] == [] and len(nuke.fake_asked_filenames()) == 1
    assert node["version"].value() == 1 and int(node.node("show")["which"].value()) == 1
    assert node.node("result")["file"].value() == str(out / "render" / "v001" / "Recast1.####.exr")
    assert node["look"].value() == "render"
    # a file that approves none, or a version of another shot: one line, the node unchanged
    for picks, says in ((_picks(tmp_path / "none.json", data), "none.json approves no version"),
                        (_picks(tmp_path / "other.json", data, ("v001",), plate=str(tmp_path / "sh020.####.exr")),
                         "other.json is the review of another shot")):
        node["decisions"].setValue(picks)
        nuke.fake_press(node, "use_approved")
        (line,) = nuke.fake_messages()[before:]
        assert line.startswith("Recast1: ") and says in line and "\n" not in line, line
        before += 1
        assert node["version"].value() == 1 and int(node.node("show")["which"].value()) == 1
