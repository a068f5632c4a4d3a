"""recast matte: soft mattes from clicks and boxes (SAM 2.1 video on the tiny preset), and using them."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from recast.core.io.exrio import read_frame, read_header
from recast.core.models.tiny import TINY_VERSION
from tests.conftest import RECAST, events, job_dict, listing, run_cli
from tests.test_real_plates import MOVING, _moving_plate


def _matte(*args, cwd=None):
    return run_cli("matte", "--model", "tiny", "--device", "cpu", "--json", *args, cwd=cwd)


def _frames(folder, frames=MOVING):
    return {f: read_frame(str(folder / f"m.{f}.exr")) for f in frames}


def test_clicks_on_one_frame_track_forward_and_backward_and_keep_each_frames_window(tmp_path):
    _moving_plate(tmp_path)
    r = _matte("--input", tmp_path / "plate" / "sh010.####.exr", "--points", "1003:30,16", "--output",
               tmp_path / "matte" / "m.####.exr")
    assert r.returncode == 0, r.stderr
    ev = events(r.stdout)
    assert ev[0]["event"] == "start" and ev[0]["objects"] == ["matte"] and ev[-1]["event"] == "done"
    directions = [e["direction"] for e in ev if e["event"] == "progress" and e["stage"] == "track"]
    assert directions == ["prompt"] + ["forward"] * 4 + ["backward"] * 3  # 1003..1006, then 1003..1001
    written = [e["frame"] for e in ev if e["event"] == "frame"]
    assert written == [1004, 1005, 1006, 1003, 1002, 1001]  # each frame once, on its last visit
    assert listing(tmp_path / "matte") == [f"m.{f}.exr" for f in MOVING]
    plate = {f: read_header(str(tmp_path / "plate" / f"sh010.{f}.exr")) for f in MOVING}
    mattes = _frames(tmp_path / "matte")
    for f, m in mattes.items():
        h = m.header
        assert h.channels == ("A",) and h.formats == ("half",)
        assert h.data_window == plate[f].data_window and h.display_window == plate[f].display_window
        assert 0.0 <= m.pixels.min() and m.pixels.max() <= 1.0 and m.pixels.std() > 0.01  # a soft matte, not flat
        assert json.loads(h.attribute("recast/matte/prompts")) == [
            {"name": "matte", "points": ["1003:30,16,+"], "boxes": []}]
        assert h.attribute("recast/matte/frames") == "1001-1006"
        assert h.attribute("recast/matte/model").endswith(os.path.join(f"tiny-{TINY_VERSION}", "matte"))
        assert h.attribute("oiio:ColorSpace") is None  # a matte is data, not colour
    # the prompt shapes the matte: another click, another matte
    r2 = _matte("--input", tmp_path / "plate" / "sh010.####.exr", "--points", "1003:5,35,+ 1003:60,2,-", "--output",
                tmp_path / "other" / "m.####.exr")
    assert r2.returncode == 0, r2.stderr
    assert not np.array_equal(read_frame(str(tmp_path / "other" / "m.1003.exr")).pixels, mattes[1003].pixels)


def test_several_objects_with_clicks_on_two_frames_get_a_channel_each_and_a_as_their_union(tmp_path, plate):
    out = tmp_path / "matte"
    r = _matte("--input", plate, "--frames", "1001-1006", "--object", "ball", "--points", "1002:30,28",
               "--points", "1005:40,28", "--object", "sky", "--box", "1004:0,0,63,14", "--points", "1004:50,30,-",
               "--output", out / "m.####.exr")
    assert r.returncode == 0, r.stderr
    ev = events(r.stdout)
    prompts = [e for e in ev if e["event"] == "progress" and e.get("direction") == "prompt"]
    assert len(prompts) == 3  # frames 1002, 1004 and 1005, earliest first
    for f in range(1001, 1007):
        m = read_frame(str(out / f"m.{f}.exr"))
        assert sorted(m.header.channels) == ["A", "matte.ball", "matte.sky"]
        ball, sky, a = m.channel("matte.ball"), m.channel("matte.sky"), m.channel("A")
        assert np.array_equal(a, np.maximum(ball, sky))
        assert not np.array_equal(ball, sky)
    h = read_header(str(out / "m.1001.exr"))
    assert [o["name"] for o in json.loads(h.attribute("recast/matte/prompts"))] == ["ball", "sky"]


def _stock_mattes(plate_pattern, objects, frames):
    """The same prompts through transformers' own session (the whole video held, nothing dropped) and its
    propagate_in_video_iterator: what Recast's bounded session must equal."""
    import torch
    from transformers.models.sam2_video.modeling_sam2_video import Sam2VideoInferenceSession

    from recast.core.io.frames import FrameRange, SequencePattern
    from recast.core.matte.frames import model_pixels, prompt_tensors, soft_mattes
    from recast.core.models.loader import Loader
    from recast.core.models.presets import load_preset
    from recast.core.shot.display import display_rgb
    from recast.core.shot.model_frames import ModelFrames
    from recast.core.shot.plate import scan_plate

    plate = scan_plate(SequencePattern.parse(plate_pattern), FrameRange(frames[0], frames[-1]))
    model, mean, std = Loader(load_preset("tiny"), "cpu").matte()
    size, canvas = model.config.image_size, plate.canvas
    src = ModelFrames(plate, "ACEScg", (canvas.width, canvas.height), None, [], plate.layers[0], "filmic", canvas)
    video = torch.stack([model_pixels(display_rgb(src.canvas_rgb(f), "ACEScg", "filmic"), size, mean, std)
                         for f in frames])
    session = Sam2VideoInferenceSession(video=video, video_height=canvas.height, video_width=canvas.width,
                                        dtype=torch.float32)
    index = {f: i for i, f in enumerate(frames)}
    out = {}
    with torch.inference_mode():
        for f in sorted({f for o in objects for f in o.frames}):
            for k, o in enumerate(objects):
                if f in o.frames:
                    coords, labels = prompt_tensors(o, f, (0, 0), (canvas.width, canvas.height), size)
                    idx = session.obj_id_to_idx(k)
                    session.add_point_inputs(idx, index[f], {"point_coords": coords, "point_labels": labels})
                    session.obj_with_new_inputs = [k]
                    model(inference_session=session, frame_idx=index[f])
        for reverse in (False, True):
            for o in model.propagate_in_video_iterator(session, reverse=reverse):
                order = [o.object_ids.index(k) for k in range(len(objects))]
                out[frames[o.frame_idx]] = soft_mattes(o.pred_masks[order], size, (canvas.width, canvas.height))
    return out


def test_the_bounded_session_makes_the_mattes_of_the_stock_session_and_holds_a_bounded_memory(tmp_path):
    """40 frames: far enough past the anchor that memory features are dropped behind the forward pass, pointers
    too, and the frames the backward pass reads again must have been kept."""
    from recast.core.job.prompts import group_prompts
    from recast.core.matte.run import MatteRequest, run_matte
    from recast.core.progress import CancelFlag, Reporter
    from recast.core.shot.synthetic import write_synthetic_plate

    count = 40
    write_synthetic_plate(str(tmp_path / "plate" / "p.####.exr"), 1, 52, width=40, height=24)
    objects = group_prompts([("object", "a"), ("points", "6:20,12"), ("object", "b"), ("box", "9:2,2,30,20")])
    kept = {}
    for n in (count, 52):
        out = tmp_path / f"m{n}" / "m.####.exr"
        request = MatteRequest(input=str(tmp_path / "plate" / "p.####.exr"), output=str(out), objects=tuple(objects),
                               frames=f"1-{n}", model="tiny", device="cpu")
        result = run_matte(request, Reporter(open(os.devnull, "w")), CancelFlag())
        kept[n] = result.kept_frames
    stock = _stock_mattes(str(tmp_path / "plate" / "p.####.exr"), objects, list(range(1, count + 1)))
    for f in range(1, count + 1):
        got = read_frame(str(tmp_path / f"m{count}" / f"m.{f:04d}.exr"))
        for k, name in enumerate(("a", "b")):
            np.testing.assert_allclose(got.channel(f"matte.{name}"), stock[f][k], atol=1e-3)  # half precision
    # memory does not grow with the shot: 52 frames hold what 40 do, far fewer than every frame of both objects
    assert kept[52] == kept[count] < 2 * count


def test_a_second_run_skips_what_is_done_and_a_deleted_frame_is_made_again_the_same(tmp_path, plate):
    from recast.core.job.prompts import group_prompts
    from recast.core.matte.run import MatteRequest, run_matte
    from recast.core.progress import CancelFlag
    from tests.test_render import Collect

    out = tmp_path / "matte"

    def make(click):
        collect = Collect()
        request = MatteRequest(input=plate, output=str(out / "m.####.exr"), model="tiny", device="cpu",
                               objects=tuple(group_prompts([("points", click)])))
        run_matte(request, collect, CancelFlag())
        return collect.events

    make("1003:30,20")
    before = {f: read_frame(str(out / f"m.{f}.exr")).pixels for f in range(1001, 1007)}
    again = make("1003:30,20")
    assert again[-1]["frames"] == 0 and again[-1]["skipped"] == 6
    assert not [e for e in again if e["event"] == "progress" and e["stage"] == "load"]  # no model was loaded
    os.remove(out / "m.1005.exr")
    third = make("1003:30,20")
    assert [e["frame"] for e in third if e["event"] == "frame" and not e.get("skipped")] == [1005]
    assert np.array_equal(read_frame(str(out / "m.1005.exr")).pixels, before[1005])
    assert make("1003:31,20")[-1]["frames"] == 6  # another click is another matte: everything is made again


def test_a_cancelled_run_resumes_from_its_checkpoint_and_ends_as_an_uninterrupted_one(tmp_path):
    from recast.core.shot.synthetic import write_synthetic_plate

    write_synthetic_plate(str(tmp_path / "plate" / "p.####.exr"), 1, 12, width=40, height=24)
    base = ["matte", "--model", "tiny", "--device", "cpu", "--json", "--input", str(tmp_path / "plate" / "p.####.exr"),
            "--points", "5:20,12", "--box", "8:4,4,30,20", "--checkpoint-every", "0.001"]
    assert run_cli(*base, "--output", tmp_path / "whole" / "m.####.exr").returncode == 0
    proc = subprocess.Popen(RECAST + base + ["--output", str(tmp_path / "cut" / "m.####.exr"), "--control", "stdin"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen = []
    for line in proc.stdout:
        e = json.loads(line)
        if e["event"] == "frame":
            seen.append(e["frame"])
            if len(seen) == 4:
                proc.stdin.write("cancel\n")
                proc.stdin.flush()
    proc.wait(timeout=120)
    assert proc.returncode == 143, proc.stderr.read()
    assert 4 <= len(listing(tmp_path / "cut")) < 12
    assert os.listdir(tmp_path / "cut" / "recast_cache" / "matte")  # the checkpoint
    r = run_cli(*base, "--output", tmp_path / "cut" / "m.####.exr")
    assert r.returncode == 0, r.stderr
    done = events(r.stdout)[-1]
    assert done["resumed_after_visit"] >= 4 and done["skipped"] >= 4
    for f in range(1, 13):
        assert np.array_equal(read_frame(str(tmp_path / "cut" / f"m.{f:04d}.exr")).pixels,
                              read_frame(str(tmp_path / "whole" / f"m.{f:04d}.exr")).pixels), f
    assert not os.listdir(tmp_path / "cut" / "recast_cache" / "matte")  # removed once done


@pytest.mark.parametrize("args, message", [
    ((), "no prompt: give at least one click"),
    (("--points", "1003:64.5,10"), "is outside the display window (64x40"),
    (("--points", "1003:10,-1"), "is outside the display window"),
    (("--points", "1009:10,10"), "frame 1009 is outside the range 1001-1006"),
    (("--box", "1003:10,10,10,30"), "has zero area"),
    (("--box", "1003:1,1,9,9", "--box", "1003:20,20,30,30"), "boxes on frame 1003"),
    (tuple(a for k in range(17) for a in ("--object", f"o{k}", "--points", "1003:5,5")), "17 objects: at most 16"),
    (("--points", "1003:10,10x"), "is not 'FRAME:X,Y'"),
    (("--object", "my actor", "--points", "1003:1,1"), "cannot name a channel"),
    (("--points", "1003:10,10", "--model", "nomatte.toml"), "has no 'matte' part"),
    (("--points", "1003:10,10", "--matte-size", "small"), "is not one of the public SAM 2.1 checkpoints"),
])
def test_every_bad_input_is_one_line_and_writes_nothing(tmp_path, plate, tiny_preset, args, message):
    text = open(tiny_preset.path).read()
    (tmp_path / "nomatte.toml").write_text(text.split("[parts.matte]")[0].replace('"./', f'"{os.path.dirname(tiny_preset.path)}/'))
    r = run_cli("matte", "--model", "tiny", "--device", "cpu", "--input", plate, "--output",
                tmp_path / "out" / "m.####.exr", *args, cwd=tmp_path)
    assert r.returncode == 1, r.stdout + r.stderr
    assert message in r.stderr and r.stderr.count("\n") == 1, r.stderr
    assert not (tmp_path / "out").exists()


def test_a_missing_matte_model_is_one_line(tmp_path, plate, tiny_preset):
    folder = os.path.dirname(tiny_preset.path)
    text = open(tiny_preset.path).read().replace('"./', f'"{folder}/').replace(f'"{folder}/matte"', '"/nowhere/sam"')
    (tmp_path / "p.toml").write_text(text)
    r = run_cli("matte", "--model", tmp_path / "p.toml", "--input", plate, "--points", "1003:1,1", "--output",
                tmp_path / "out" / "m.####.exr")
    assert r.returncode == 1 and "model part 'matte': folder '/nowhere/sam' does not exist" in r.stderr
    assert r.stderr.count("\n") == 1 and not (tmp_path / "out").exists()


def test_an_output_that_names_the_plate_is_refused(tmp_path, plate):
    r = run_cli("matte", "--model", "tiny", "--input", plate, "--points", "1003:1,1", "--output",
                tmp_path / "plate" / "sh010.%04d.exr")
    assert r.returncode == 1 and "is the same file as plate frame 1001" in r.stderr


def test_the_green_screen_edit_keeps_the_plate_bit_exact_where_the_matte_is_one(tmp_path, plate):
    """The job's matte section makes the matte (recast matte --job); with mask_invert the render replaces the
    world and keeps the clicked object: bit-exact wherever the matte is 1."""
    path = tmp_path / "job.json"
    path.write_text(json.dumps(job_dict(input={"mask_invert": True}, matte={
        "objects": [{"name": "ball", "points": ["1003:30,28"]}]})))
    r = run_cli("render", "--job", path)
    assert r.returncode == 1 and "job field 'matte': its matte" in r.stderr and "not made yet" in r.stderr
    assert r.stderr.count("\n") == 1 and not listing(tmp_path / "render")
    r = run_cli("matte", "--job", path, "--json")
    assert r.returncode == 0, r.stderr
    assert listing(tmp_path / "render" / "matte") == [f"matte.{f}.exr" for f in range(1001, 1007)]
    r = run_cli("render", "--job", path)
    assert r.returncode == 0, r.stderr
    kept = edited = 0
    for f in range(1001, 1007):
        a = read_frame(str(tmp_path / "render" / "matte" / f"matte.{f}.exr")).channel("A")
        src = read_frame(str(tmp_path / "plate" / f"sh010.{f}.exr")).pixels[:, :, :3]
        out = read_frame(str(tmp_path / "render" / f"sh010_recast.{f}.exr")).pixels[:, :, :3]
        one, zero = a == 1.0, a < 1e-3
        assert np.array_equal(out[one], src[one])
        kept += int(one.sum())
        edited += int((np.abs(out[zero] - src[zero]).max(axis=-1) > 1e-3).sum())
    assert kept > 0 and edited > 0
    # mask_invert without any matte is one line
    path.write_text(json.dumps(job_dict(input={"mask_invert": True})))
    r = run_cli("render", "--job", path)
    assert r.returncode == 1 and "'input.mask_invert' is true but the job has no matte" in r.stderr


def test_mask_invert_with_a_hand_made_matte_edits_only_where_it_is_zero(tmp_path, plate):
    from tests.conftest import write_exr

    os.makedirs(tmp_path / "hand")
    ramp = np.zeros((40, 64, 1), np.float32)
    ramp[:, :20] = 1.0
    ramp[:, 20:40] = 0.5
    for f in range(1001, 1007):
        write_exr(tmp_path / "hand" / f"m.{f}.exr", ramp, ["A"], ["half"])
    path = tmp_path / "job.json"
    path.write_text(json.dumps(job_dict(input={"mask_pattern": "hand/m.####.exr", "mask_invert": True})))
    assert run_cli("render", "--job", path).returncode == 0
    for f in range(1001, 1007):
        src = read_frame(str(tmp_path / "plate" / f"sh010.{f}.exr")).pixels
        out = read_frame(str(tmp_path / "render" / f"sh010_recast.{f}.exr")).pixels
        assert np.array_equal(out[:, :20], src[:, :20])  # matte 1: kept, bit-exact
        assert not np.allclose(out[:, 40:, :3], src[:, 40:, :3], atol=1e-3)  # matte 0: edited
        assert np.array_equal(out[:, :, 3:], src[:, :, 3:])  # alpha and depth untouched everywhere


def test_the_farm_bundle_makes_the_matte_in_a_step_before_the_render(tmp_path, plate):
    path = tmp_path / "job.json"
    path.write_text(json.dumps(job_dict(input={"mask_invert": True}, matte={
        "objects": [{"name": "ball", "points": ["1002:30,28"], "boxes": ["1005:20,20,50,38"]}]})))
    r = run_cli("farm", "openjd", "--job", path, "--chunk-size", "3", "--out", tmp_path / "bundle")
    assert r.returncode == 0, r.stderr
    template = json.loads((tmp_path / "bundle" / "template.json").read_text())
    steps = {s["name"]: s for s in template["steps"]}
    assert list(steps) == ["Matte", "Depth", "Render", "Assemble"]
    assert {"dependsOn": "Matte"} in steps["Render"]["dependencies"]
    args = steps["Matte"]["script"]["actions"]["onRun"]["args"]
    assert args[:3] == ["matte", "--job", "{{Param.JobFile}}"]
    assert "{{Param.PlateFolder}}/sh010.####.exr" in args and "{{Param.OutputFolder}}/sh010_recast.####.exr" in args
    bin_dir = os.path.dirname(sys.executable)
    import shlex

    argv = shlex.split(r.stdout.strip().splitlines()[-1])
    run = subprocess.run([os.path.join(bin_dir, argv[0]), *argv[1:]], capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert listing(tmp_path / "render" / "matte") == [f"matte.{f}.exr" for f in range(1001, 1007)]
    assert listing(tmp_path / "render") == ["matte"] + [f"sh010_recast.{f}.exr" for f in range(1001, 1007)]
    # the OpenCue spec gets the matte layer ahead of the render too
    r = run_cli("farm", "opencue", "--job", path, "--out", tmp_path / "cue", "--user", "artist", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["layers"] == ["matte", "depth", "render", "assemble"]
