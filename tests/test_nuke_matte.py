"""The RecastMatte node in Nuke (the fake ``nuke``): points from the Viewer, a matte in the background, its
alpha on the node's output, and that output as the Recast node's mask (Green Screen: keep the actor)."""

from __future__ import annotations

import os

import numpy as np
import pytest

from recast.core.io.exrio import read_frame
from tests.test_nuke import files, finish, gui, nuke, read_plate, recast_node  # noqa: F401 (fixtures)


def matte_node(nuke, source, out, **values):
    """The artist's way: select the plate, click RecastMatte in the toolbar, set knobs."""
    source.setSelected(True)
    nuke.menu("Nodes").findItem("Recast/RecastMatte").invoke()
    node = nuke.selectedNode()
    for name, value in {"model": "tiny", "device": "cpu", "output_folder": str(out), **values}.items():
        node[name].setValue(value)
    return node


def wait(nuke, node, timeout=240):
    from recast.plugin import nuke_matte

    assert nuke.fake_process_events(until=lambda: node.fullName() not in nuke_matte._running, timeout=timeout)
    nuke.fake_process_events()


def _image(node, frame):
    import OpenImageIO as oiio

    buf = node._image(frame)
    spec = buf.spec()
    px = np.array(buf.get_pixels(oiio.FLOAT)).reshape(spec.height, spec.width, -1)
    return list(spec.channelnames), px


def test_points_from_the_viewer_make_a_matte_in_the_output_alpha_and_feed_the_recast_mask(gui, plate, tmp_path):
    nuke = gui
    read = read_plate(nuke, plate)
    node = matte_node(nuke, read, tmp_path / "matte_out")
    assert node.Class() == "Group" and node.name() == "RecastMatte1" and node.input(0) is read
    assert [k.name() for k in node.knobs().values() if type(k).__name__ == "PyScript_Knob"] == [
        "add_point", "remove_point", "clear_points", "render", "cancel"]
    # the artist drags the point in the Viewer (origin bottom left) at frame 1003 and adds it, then a '-' one
    nuke.frame(1003)
    node["point"].setValue([30.0, 12.0])
    nuke.fake_press(node, "add_point")
    node["point_sign"].setValue("-")
    node["point"].setValue([5.0, 35.5])
    nuke.fake_press(node, "add_point")
    assert node["prompts"].getText() == "1003:30,28,+\n1003:5,4.5,-"  # y flipped: the file's top-left origin
    nuke.fake_press(node, "remove_point")
    assert node["prompts"].getText() == "1003:30,28,+"
    before = _image(node, 1003)[1]
    nuke.fake_press(node, "render")
    assert nuke.fake_tasks()[-1].name == "RecastMatte RecastMatte1"
    wait(nuke, node)
    assert not nuke.fake_messages(), nuke.fake_messages()
    assert node["label"].value() == "matte v001" and "rgba.alpha" in node["status"].value()
    out = tmp_path / "matte_out" / "matte" / "v001"
    assert files(out) == [f"RecastMatte1_matte.{f}.exr" for f in range(1001, 1007)]
    for f in (1001, 1003, 1006):
        names, px = _image(node, f)
        matte = read_frame(str(out / f"RecastMatte1_matte.{f}.exr")).channel("A")
        assert np.allclose(px[:, :, names.index("A")], matte)  # the matte is the output's alpha
        src = read_frame(plate.replace("####", str(f))).pixels
        assert np.allclose(px[:, :, :3], src[:, :, :3], atol=1e-3)  # the plate's colour goes through
    assert not np.allclose(before[:, :, 3], _image(node, 1003)[1][:, :, 3])

    # the Recast node takes it on its mask input: invert keeps the object, replaces the world
    node.setSelected(False)
    recast = recast_node(nuke, read, tmp_path / "recast_out", mask_invert=True)
    recast.setInput(2, node)
    nuke.fake_press(recast, "render")
    finish(nuke, recast)
    assert not nuke.fake_messages(), nuke.fake_messages()
    result = tmp_path / "recast_out" / "render" / "v001"
    kept = 0
    for f in range(1001, 1007):
        a = read_frame(str(out / f"RecastMatte1_matte.{f}.exr")).channel("A")
        src = read_frame(plate.replace("####", str(f))).pixels[:, :, :3]
        got = read_frame(str(result / f"Recast1.{f}.exr")).pixels[:, :, :3]
        one = a == 1.0
        kept += int(one.sum())
        assert np.array_equal(got[one], src[one])
    assert kept > 0


def test_another_output_channel_and_a_second_matte_is_a_new_version(gui, plate, tmp_path):
    nuke = gui
    node = matte_node(nuke, read_plate(nuke, plate), tmp_path, prompts="ball 1002:30,20\nsky box 1004:0,0,63,10",
                      output_channel="mask.a")
    nuke.fake_press(node, "render")
    wait(nuke, node)
    names, px = _image(node, 1002)
    assert "mask.a" in names and names[:4] == ["R", "G", "B", "A"]
    assert np.allclose(px[:, :, 3], read_frame(plate.replace("####", "1002")).channel("A"))  # alpha untouched
    node["prompts"].setValue("ball 1002:31,20")
    nuke.fake_press(node, "render")
    wait(nuke, node)
    assert node["label"].value() == "matte v002"
    assert sorted(os.listdir(tmp_path / "matte")) == ["v001", "v002"]


@pytest.mark.parametrize("prompts, message", [
    ("", "no prompt: give at least one click"),
    ("1003:70,10", "is outside the display window (64x40"),
    ("1020:10,10", "frame 1020 is outside the range 1001-1006"),
    ("box 1003:5,5,5,9", "has zero area"),
    ("1003:10,10 1003:11,11", "give one click"),
])
def test_bad_prompts_are_one_line_and_write_nothing(gui, plate, tmp_path, prompts, message):
    nuke = gui
    node = matte_node(nuke, read_plate(nuke, plate), tmp_path / "out", prompts=prompts)
    nuke.fake_press(node, "render")
    (said,) = nuke.fake_messages()
    assert message in said and "\n" not in said
    assert not (tmp_path / "out").exists()


def test_no_plate_is_one_line(gui, tmp_path):
    nuke = gui
    node = nuke.createNode("Group", inpanel=False)
    from recast.plugin import nuke_matte

    nuke_matte.build(node)
    nuke.fake_press(node, "add_point")
    nuke.fake_press(node, "render")
    assert all("no plate" in m for m in nuke.fake_messages()) and len(nuke.fake_messages()) == 2


def test_cancel_from_the_progress_bar_and_a_second_press_resumes(gui, tmp_path):
    from recast.core.shot.synthetic import write_synthetic_plate

    nuke = gui
    pattern = str(tmp_path / "plate" / "sh.####.exr")
    write_synthetic_plate(pattern, 1001, 30, width=64, height=40)
    node = matte_node(nuke, read_plate(nuke, pattern, 1001, 1030), tmp_path / "out", prompts="1001:30,20")
    nuke.fake_press(node, "render")
    task = nuke.fake_tasks()[-1]
    from recast.plugin import nuke_matte

    run = nuke_matte._running[node.fullName()]
    assert nuke.fake_process_events(until=lambda: run.process.frames_done >= 3, timeout=120)
    task.cancelled = True  # the artist clicks the progress bar's cancel
    wait(nuke, node)
    assert node["label"].value() == "matte cancelled" and "resumes" in node["status"].value()
    nuke.fake_press(node, "render")
    wait(nuke, node)
    assert node["label"].value() == "matte v001"  # the same prompts: the same version, resumed
    assert len(files(tmp_path / "out" / "matte" / "v001")) == 30
