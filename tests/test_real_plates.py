"""Production plates: moving bounding boxes, multi-part and stereo files, luminance-only plates, HDR
highlights through the edit, damaged files — each written here as productions make them."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import OpenImageIO as oiio
import pytest

from recast.core.io.exrio import read_frame, read_parts
from recast.core.io.layout import Window
from tests.conftest import events, job_dict, run_cli, write_exr

HERE = os.path.dirname(os.path.abspath(__file__))


def _job(tmp_path, **overrides) -> str:
    path = tmp_path / "job.json"
    path.write_text(json.dumps(job_dict(**overrides)))
    return str(path)


def _scene(f, w, h):
    from recast.core.shot.synthetic import synthetic_frame

    return synthetic_frame((f - 1001) / 5, w, h)


# --- moving data windows ---------------------------------------------------------------------

#: frame → data window (x, y, w, h) inside a 64x40 display window; 1004 and 1006 reach outside it
MOVING = {1001: (4, 2, 30, 20), 1002: (8, 4, 32, 22), 1003: (14, 6, 36, 24), 1004: (40, 10, 34, 24),
          1005: (20, 12, 28, 18), 1006: (-6, -4, 30, 26)}


def _moving_plate(tmp_path):
    os.makedirs(tmp_path / "plate")
    for f, (x, y, w, h) in MOVING.items():
        s = _scene(f, w, h)
        px = np.concatenate([s["rgb"], s["alpha"][..., None], np.minimum(s["depth"], 1e4)[..., None]], axis=2)
        write_exr(tmp_path / "plate" / f"sh010.{f}.exr", px, ["R", "G", "B", "A", "depth.Z"],
                  ["half", "half", "half", "half", "float"], data_window=(x, y), display_window=(0, 0, 64, 40),
                  attrs=[("oiio:ColorSpace", "string", "ACEScg")])


def test_a_plate_whose_data_window_moves_every_frame_renders_and_keeps_each_frames_window(tmp_path):
    _moving_plate(tmp_path)
    info = run_cli("info", tmp_path / "plate" / "sh010.1003.exr")  # a frame's own path finds its sequence
    assert info.returncode == 0, info.stdout + info.stderr
    assert "moves from frame to frame" in info.stdout and "colorspace  ACEScg" in info.stdout
    r = run_cli("render", "--job", _job(tmp_path, input={"depth_channel": "depth.Z"}))
    assert r.returncode == 0, r.stderr
    start = events(r.stdout)[0]
    assert start["model_size"] == [64, 32]  # the canvas, display ∪ overscan, is 80x44: long side 64
    for f, (x, y, w, h) in MOVING.items():
        src = read_frame(str(tmp_path / "plate" / f"sh010.{f}.exr"))
        out = read_frame(str(tmp_path / "render" / f"sh010_recast.{f}.exr"))
        assert out.header.data_window == Window(x, y, w, h) and out.header.display_window == Window(0, 0, 64, 40)
        assert out.header.formats == src.header.formats
        for name in ("A", "depth.Z"):
            np.testing.assert_array_equal(out.channel(name), src.channel(name))
        assert np.isfinite(out.rgb()).all() and np.abs(out.rgb() - src.rgb()).mean() > 0.005


def test_the_canvas_grows_to_hold_overscan(tmp_path):
    from recast.core.shot.plate import scan_plate
    from recast.core.io.frames import SequencePattern

    _moving_plate(tmp_path)
    plate = scan_plate(SequencePattern.parse(str(tmp_path / "plate" / "sh010.####.exr")), None)
    assert plate.moving and plate.canvas == Window(-6, -4, 80, 44)  # x -6..74, y -4..40


# --- multi-part, stereo -----------------------------------------------------------------------

def _write_parts(path, parts):
    """parts: [(name, view or None, channels, pixels H×W×C, (x, y))] in a 48x32 display window."""
    specs = []
    for name, view, channels, px, (x, y) in parts:
        s = oiio.ImageSpec(px.shape[1], px.shape[0], px.shape[2], oiio.HALF)
        s.channelnames = tuple(channels)
        s.x, s.y, s.full_width, s.full_height = x, y, 48, 32
        s.attribute("oiio:subimagename", name)
        s.attribute("oiio:ColorSpace", "ACEScg")
        if view:
            s.attribute("view", view)
        specs.append(s)
    out = oiio.ImageOutput.create(str(path))
    assert out.open(str(path), specs), out.geterror()
    for i, (_, _, _, px, _) in enumerate(parts):
        if i:
            out.open(str(path), specs[i], "AppendSubimage")
        out.write_image(px.astype(np.float32))
    out.close()


def _stereo_multipart(tmp_path, frames=4):
    os.makedirs(tmp_path / "plate")
    for f in range(1001, 1001 + frames):
        left, right = _scene(f, 40, 28), _scene(f + 0.2, 40, 28)
        rgba = lambda s: np.concatenate([s["rgb"], s["alpha"][..., None]], axis=2)  # noqa: E731
        depth = np.minimum(left["depth"], 1e3)[..., None]
        _write_parts(tmp_path / "plate" / f"st.{f}.exr", [
            ("rgba_left", "left", "RGBA", rgba(left), (f - 1001, 2)),
            ("rgba_right", "right", "RGBA", rgba(right), (f - 1000, 2)),
            ("depth_left", "left", ["Z"], depth, (f - 1001, 2)),
            ("depth_right", "right", ["Z"], depth, (f - 1000, 2)),
            ("masks", None, ["id"], np.full((10, 12, 1), 7.0), (5, 5))])


@pytest.mark.parametrize("views", [None, ["left", "right"]])
def test_a_multipart_stereo_sequence_edits_the_views_asked_for_and_keeps_every_part(tmp_path, views):
    _stereo_multipart(tmp_path)
    job = _job(tmp_path, input={"pattern": "plate/st.####.exr", "frames": "1001-1004", "colorspace": None,
                                "views": views, "depth_channel": "Z"})
    r = run_cli("render", "--job", job)
    assert r.returncode == 0, r.stderr
    for f in range(1001, 1005):
        src, out = read_parts(str(tmp_path / "plate" / f"st.{f}.exr")), \
            read_parts(str(tmp_path / "render" / f"sh010_recast.{f}.exr"))
        assert [(p.header.name, p.header.view, p.header.data_window, p.header.channels, p.header.formats)
                for p in out] == [(p.header.name, p.header.view, p.header.data_window, p.header.channels,
                                   p.header.formats) for p in src]
        edited = {0, 1} if views else {0}  # parts: rgba_left, rgba_right, depth_left, depth_right, masks
        for i, (a, b) in enumerate(zip(src, out)):
            if i in edited:
                assert np.abs(b.pixels[:, :, :3] - a.pixels[:, :, :3]).mean() > 0.005  # RGB edited
                np.testing.assert_array_equal(b.pixels[:, :, 3], a.pixels[:, :, 3])  # alpha kept
            else:
                np.testing.assert_array_equal(b.pixels, a.pixels)  # the other view, depth, masks: bit-exact
        assert out[0].header.attribute("recast/layers").startswith("part 0 view left")


def test_a_single_part_multiview_file_edits_both_views_with_one_look(tmp_path):
    os.makedirs(tmp_path / "plate")
    for f in range(1001, 1004):
        s = _scene(f, 48, 32)
        px = np.concatenate([s["rgb"], s["rgb"][:, ::-1]], axis=2)
        write_exr(tmp_path / "plate" / f"mv.{f}.exr", px, ["R", "G", "B", "right.R", "right.G", "right.B"],
                  ["half"] * 6, attrs=[("oiio:ColorSpace", "string", "ACEScg")])
        path = str(tmp_path / "plate" / f"mv.{f}.exr")
        buf = oiio.ImageBuf(path)
        buf.specmod().attribute("multiView", oiio.TypeDesc("string[2]"), ("left", "right"))
        buf.write(path + ".tmp.exr")
        os.replace(path + ".tmp.exr", path)
    r = run_cli("render", "--job", _job(tmp_path, input={"pattern": "plate/mv.####.exr", "frames": "1001-1003",
                                                          "colorspace": None, "views": ["left", "right"]}))
    assert r.returncode == 0, r.stderr
    out = read_frame(str(tmp_path / "render" / "sh010_recast.1002.exr"))
    src = read_frame(str(tmp_path / "plate" / "mv.1002.exr"))
    assert out.header.views == ("left", "right") and out.header.channels == src.header.channels
    left = out.pixels[:, :, [out.header.index(c) for c in "RGB"]]
    right = out.pixels[:, :, [out.header.index("right." + c) for c in "RGB"]]
    assert np.abs(left - src.pixels[:, :, :3]).mean() > 0.005 and np.abs(right - src.pixels[:, :, 3:]).mean() > 0.005


def test_a_view_or_part_that_is_not_there_is_one_line(tmp_path):
    _stereo_multipart(tmp_path, frames=2)
    for field, value, expect in (("views", ["centre"], "has no view 'centre'; its views are left, right"),
                                 ("part", "beauty", "has no part named 'beauty'")):
        r = run_cli("render", "--job", _job(tmp_path, input={"pattern": "plate/st.####.exr", "frames": "1001-1002",
                                                              field: value}))
        assert r.returncode == 1 and expect in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr


# --- luminance ----------------------------------------------------------------------------------

def test_a_luminance_only_plate_is_edited_as_grey_and_written_back_as_y(tmp_path):
    os.makedirs(tmp_path / "plate")
    for f in range(1001, 1004):
        y = _scene(f, 48, 32)["rgb"].mean(axis=2, keepdims=True)
        write_exr(tmp_path / "plate" / f"bw.{f}.exr", np.concatenate([y, np.ones_like(y)], axis=2), ["Y", "A"],
                  ["half", "half"])
    r = run_cli("render", "--job", _job(tmp_path, input={"pattern": "plate/bw.####.exr", "frames": "1001-1003",
                                                          "colorspace": None}))
    assert r.returncode == 0, r.stderr
    src, out = read_frame(str(tmp_path / "plate" / "bw.1002.exr")), \
        read_frame(str(tmp_path / "render" / "sh010_recast.1002.exr"))
    assert out.header.channels == ("Y", "A") and out.header.formats == ("half", "half")
    assert np.isfinite(out.pixels).all() and np.abs(out.channel("Y") - src.channel("Y")).mean() > 0.005
    np.testing.assert_array_equal(out.channel("A"), src.channel("A"))


def test_subsampled_chroma_is_one_clear_refusal(tmp_path):
    os.makedirs(tmp_path / "plate")
    write_exr(tmp_path / "plate" / "yc.1001.exr", np.full((8, 8, 3), 0.2, np.float32), ["Y", "RY", "BY"])
    r = run_cli("render", "--job", _job(tmp_path, input={"pattern": "plate/yc.####.exr", "frames": "1001-1001"}))
    assert r.returncode == 1 and "subsampled chroma (RY, BY)" in r.stderr and not (tmp_path / "render").exists()


# --- HDR through the edit -------------------------------------------------------------------------

def _hdr_plate(tmp_path):
    os.makedirs(tmp_path / "plate")
    ramp = np.geomspace(0.001, 1000, 64 * 40, dtype=np.float32).reshape(40, 64, 1).repeat(3, axis=2)
    for f in (1001, 1002):
        px = ramp.copy()
        px[0, 0] = np.nan
        px[0, 1] = np.inf
        write_exr(tmp_path / "plate" / f"hdr.{f}.exr", px, ["R", "G", "B"], ["float"] * 3,
                  attrs=[("oiio:ColorSpace", "string", "Linear Rec.709 (sRGB)")])
    return ramp


def test_the_null_render_returns_hdr_values_through_filmic_within_one_percent(tmp_path):
    ramp = _hdr_plate(tmp_path)
    r = run_cli("render", "--job", _job(tmp_path, strength=0, model="no-such-preset",
                                        input={"pattern": "plate/hdr.####.exr", "frames": "1001-1002",
                                               "colorspace": None}))
    assert r.returncode == 0, r.stderr  # no model is needed, not even one that exists
    out = read_frame(str(tmp_path / "render" / "sh010_recast.1001.exr"))
    assert out.header.attribute("recast/renderer").startswith("recast null render")
    got = out.rgb()
    ok = np.ones(got.shape[:2], bool)
    ok[0, :2] = False
    rel = np.abs(got[ok] / ramp[ok] - 1)
    assert rel.max() < 0.01, rel.max()
    assert np.isfinite(got).all()  # NaN and Inf are 0 and white for the model, and come back finite


def test_clip_clips_highlights_and_a_display_view_round_trips(tmp_path):
    ramp = _hdr_plate(tmp_path)
    base = {"strength": 0, "input": {"pattern": "plate/hdr.####.exr", "frames": "1001-1002", "colorspace": None}}
    r = run_cli("render", "--job", _job(tmp_path, model_view="clip", output={"pattern": "clip/x.####.exr"}, **base))
    assert r.returncode == 0, r.stderr
    got = read_frame(str(tmp_path / "clip" / "x.1001.exr")).rgb()
    finite = np.ones(got.shape[:2], bool)
    finite[0, :2] = False  # the NaN and Inf pixels
    low = finite & (ramp[:, :, 0] < 0.5)
    assert got.max() <= 1.001 and np.allclose(got[low], ramp[low], rtol=0.01, atol=1e-4)
    view = "sRGB - Display/Un-tone-mapped"
    r = run_cli("render", "--job", _job(tmp_path, model_view=view, output={"pattern": "dv/x.####.exr"}, **base))
    assert r.returncode == 0, r.stderr
    got = read_frame(str(tmp_path / "dv" / "x.1001.exr")).rgb()
    sel = (ramp > 0.01) & (ramp < 0.8)
    np.testing.assert_allclose(got[sel], ramp[sel], rtol=0.02)
    bad = run_cli("render", "--job", _job(tmp_path, model_view="sRGB - Display/Nope", **base))
    assert bad.returncode == 1 and "view 'Nope' is not a view of display" in bad.stderr


def test_filmic_returns_what_the_model_draws_near_white_as_highlights():
    """The model's output near 1.0 (its brightest) comes back far above display white, a saturated 1.0 as the
    roll-off's white point — not half-float's maximum — and midtones as they were (the tiny model's random
    weights cannot show this through a render; the inverse is what the write stage applies)."""
    from recast.core.io.colour import from_model, to_model
    from recast.core.io.model_view import WHITE

    model = np.array([[[0.5, 0.5, 0.5], [0.99, 0.99, 0.99], [0.9999, 0.9999, 0.9999], [1.0, 1.0, 1.0]]], np.float32)
    back = from_model(model, "Linear Rec.709 (sRGB)", "filmic")[0, :, 0]
    assert back[0] == pytest.approx(0.214, abs=1e-3) and 2 < back[1] < 3 and back[2] > 100
    assert back[3] == pytest.approx(WHITE, rel=1e-4)
    again = to_model(back[None, :, None].repeat(3, axis=2), "Linear Rec.709 (sRGB)", "filmic")
    np.testing.assert_allclose(again[0, :, 0], model[0, :, 0], atol=1e-6)


# --- damaged files never crash --------------------------------------------------------------------

def _harness(args, files):
    """Run ``recast ARGS`` for each file through the harness; returns {file: (code, traceback)} and the
    files that killed the process (a crash by signal)."""
    results, crashed, start = {}, [], 0
    while start < len(files):
        proc = subprocess.run([sys.executable, os.path.join(HERE, "fuzz_harness.py"), str(start), *args, "--",
                               *files], capture_output=True, text=True, timeout=1200)
        last = None
        for line in proc.stdout.splitlines():
            word = line.split()
            if word[0] == "BEGIN":
                last = int(word[1])
            elif word[0] == "END":
                results[files[int(word[1])]] = (int(word[2]), bool(int(word[3])))
                last = None
        if proc.returncode == 0:
            break
        assert last is not None, proc.stderr[-2000:]
        crashed.append((files[last], proc.returncode))
        start = last + 1
    return results, crashed


def test_fuzzed_exrs_never_crash_info_or_render(tmp_path):
    from tests.exr_corpus import damage, sources

    files = damage(sources(str(tmp_path)), str(tmp_path), 210)
    patterns = [f.replace("1001", "####") for f in files]
    for args in (["info", "{}"], ["info", "--pixels", "{}"]):
        results, crashed = _harness(args, patterns)
        assert crashed == [] and len(results) == len(files)
        assert {code for code, _ in results.values()} <= {0, 1}, sorted({c for c, _ in results.values()})
        assert not [f for f, (_, tb) in results.items() if tb]
    render = ["render", "--input", "{}", "--input-frames", "1001-1001", "--output", str(tmp_path / "out" / "x.####.exr"),
              "--prompt", "a street", "--model", "tiny", "--device", "cpu", "--steps", "1", "--resolution", "64",
              "--window-length", "2", "--window-overlap", "0", "--strength", "0.5"]
    results, crashed = _harness(render, patterns)
    assert crashed == [] and len(results) == len(patterns)
    assert {code for code, _ in results.values()} <= {0, 1} and not [f for f, (_, tb) in results.items() if tb]


def test_info_lists_the_sequences_of_a_folder(tmp_path, plate):
    write_exr(tmp_path / "plate" / "other.0001.exr", np.zeros((4, 4, 3), np.float32), ["R", "G", "B"])
    r = run_cli("info", tmp_path / "plate", "--json")
    assert r.returncode == 0, r.stderr
    seqs = {os.path.basename(s["pattern"]): s for s in json.loads(r.stdout)["sequences"]}
    assert seqs["sh010.####.exr"]["frames"] == "1001-1006" and seqs["other.####.exr"]["count"] == 1

