import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from recast.core.errors import ImageError
from recast.core.io.exrio import Window, read_frame, read_header, write_frame
from tests.conftest import write_exr

CHANNELS = ["R", "G", "B", "A", "depth.Z", "N.x", "N.y", "N.z", "crypto.R"]
FORMATS = ["half", "half", "half", "half", "float", "half", "half", "half", "float"]
ATTRS = [
    ("compression", "string", "piz"),
    ("worldToCamera", "matrix", tuple(float(i) for i in range(16))),
    ("chromaticities", "float[8]", (0.713, 0.293, 0.165, 0.830, 0.128, 0.044, 0.32168, 0.33767)),
    ("smpte:TimeCode", "timecode", (0x01000000, 0)),
    ("FramesPerSecond", "rational", (24, 1)),
    ("nuke/node_hash", "string", "abc123"),
    ("studio:shot", "string", "sh010 — ünïcode"),
    ("exposure", "float", 1.5),
    ("frameCount", "int", 48),
]


@pytest.fixture
def multilayer(tmp_path):
    rng = np.random.default_rng(7)
    px = rng.uniform(-0.5, 4.0, (30, 50, len(CHANNELS))).astype(np.float32)
    path = tmp_path / "ml.0001.exr"
    write_exr(path, px, CHANNELS, FORMATS, data_window=(6, 4), display_window=(0, 0, 64, 40), attrs=ATTRS)
    return path, px


def _by_name(frame, name):
    return frame.channel(name)


def test_read_gives_every_channel_window_type_and_attribute(multilayer):
    path, px = multilayer
    f = read_frame(str(path))
    h = f.header
    assert sorted(h.channels) == sorted(CHANNELS)
    assert h.data_window == Window(6, 4, 50, 30)
    assert h.display_window == Window(0, 0, 64, 40)
    assert f.pixels.dtype == np.float32 and f.pixels.shape == (30, 50, len(CHANNELS))
    for name, fmt, i in zip(CHANNELS, FORMATS, range(len(CHANNELS))):
        assert h.formats[h.index(name)] == fmt
        expect = px[:, :, i].astype(np.float16).astype(np.float32) if fmt == "half" else px[:, :, i]
        np.testing.assert_array_equal(_by_name(f, name), expect)
    assert h.compression == "piz"
    assert h.attribute("nuke/node_hash") == "abc123"


def test_round_trip_keeps_everything(multilayer, tmp_path):
    path, _ = multilayer
    src = read_frame(str(path))
    out = tmp_path / "out" / "ml.0001.exr"
    out.parent.mkdir()
    write_frame(str(out), src, {"recast/job": '{"prompt": "a \\"quoted\\" prompt"}'})
    back = read_frame(str(out))
    assert back.header.channels == src.header.channels
    assert back.header.formats == src.header.formats
    assert back.header.data_window == src.header.data_window
    assert back.header.display_window == src.header.display_window
    np.testing.assert_array_equal(back.pixels, src.pixels)
    got = {n: (t, v) for n, t, v in back.header.attributes}
    for name, typ, value in ATTRS:
        assert name in got, name
        assert got[name][0] == typ, name
        if isinstance(value, tuple):
            np.testing.assert_allclose(got[name][1], value, rtol=1e-6, err_msg=name)
        else:
            assert got[name][1] == pytest.approx(value) if isinstance(value, float) else got[name][1] == value
    assert {(n, t) for n, t, _ in src.header.attributes} <= {(n, t) for n, (t, _) in got.items()}
    assert got["recast/job"][1] == '{"prompt": "a \\"quoted\\" prompt"}'
    # no temporary file is left beside the frame
    assert os.listdir(out.parent) == ["ml.0001.exr"]


def test_round_trip_tiled(tmp_path):
    import OpenImageIO as oiio

    path = tmp_path / "tiled.exr"
    spec = oiio.ImageSpec(40, 24, 4, oiio.HALF)
    spec.tile_width = spec.tile_height = 16
    out = oiio.ImageOutput.create(str(path))
    out.open(str(path), spec)
    out.write_image(np.random.default_rng(1).random((24, 40, 4), np.float32))
    out.close()
    src = read_frame(str(path))
    assert src.header.tile == (16, 16)
    write_frame(str(tmp_path / "tiled_out.exr"), src)
    assert read_header(str(tmp_path / "tiled_out.exr")).tile == (16, 16)


@pytest.mark.parametrize("make, message", [
    (lambda p: p.write_bytes(b""), "empty \\(0-byte\\)"),
    (lambda p: p.write_bytes(b"this is not an exr file at all" * 10), "cannot be read"),
    (lambda p: p.mkdir(), "is a folder"),
])
def test_bad_files_give_one_line(tmp_path, make, message):
    p = tmp_path / "bad.0001.exr"
    make(p)
    with pytest.raises(ImageError, match=message) as exc:
        read_frame(str(p))
    assert "\n" not in str(exc.value)


def test_truncated_exr_is_an_error(multilayer, tmp_path):
    path, _ = multilayer
    data = path.read_bytes()
    cut = tmp_path / "cut.0001.exr"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageError) as exc:
        read_frame(str(cut))
    assert "\n" not in str(exc.value) and str(cut) in str(exc.value)


def test_a_multipart_exr_round_trips_every_part(tmp_path):
    """Multi-part files are read part by part and written back with every part's name, view, window,
    channels, types and pixels (they used to be refused)."""
    import OpenImageIO as oiio

    from recast.core.io.exrio import read_headers, read_parts, write_parts

    path = tmp_path / "mp.exr"
    specs = [oiio.ImageSpec(8, 8, 3, oiio.HALF), oiio.ImageSpec(6, 4, 1, oiio.FLOAT)]
    specs[0].attribute("oiio:subimagename", "rgb")
    specs[0].attribute("view", "left")
    specs[1].channelnames = ("Z",)
    specs[1].attribute("oiio:subimagename", "depth")
    specs[1].x, specs[1].y = 2, 3
    specs[1].full_width, specs[1].full_height = 8, 8  # every part of a file shares its display window
    out = oiio.ImageOutput.create(str(path))
    assert out.open(str(path), specs)
    out.write_image(np.full((8, 8, 3), 0.25, np.float32))
    out.open(str(path), specs[1], "AppendSubimage")
    out.write_image(np.arange(24, dtype=np.float32).reshape(4, 6, 1))
    out.close()
    headers = read_headers(str(path))
    assert [(h.name, h.view, h.part, h.parts) for h in headers] == [("rgb", "left", 0, 2), ("depth", None, 1, 2)]
    parts = read_parts(str(path))
    write_parts(str(tmp_path / "copy.exr"), parts, {"recast/x": "1"})
    for a, b in zip(parts, read_parts(str(tmp_path / "copy.exr"))):
        assert (a.header.name, a.header.view, a.header.channels, a.header.formats, a.header.data_window) == \
            (b.header.name, b.header.view, b.header.channels, b.header.formats, b.header.data_window)
        np.testing.assert_array_equal(a.pixels, b.pixels)
        assert b.header.attribute("recast/x") == "1"


def test_killed_writer_leaves_no_frame_under_its_name(tmp_path):
    """SIGKILL a process while it writes big frames: every final name is a whole, readable EXR."""
    script = textwrap.dedent(f"""
        import numpy as np
        from recast.core.io.exrio import Frame, Header, Window, write_frame
        h = Header(path="", channels=tuple("RGBA") + tuple(f"aux{{i}}.Y" for i in range(12)),
                   formats=("float",) * 16, data_window=Window(0, 0, 2048, 1024),
                   display_window=Window(0, 0, 2048, 1024), attributes=(("compression", "string", "zip"),))
        px = np.random.default_rng(0).random((1024, 2048, 16), np.float32)
        for i in range(1, 1000):
            write_frame({str(tmp_path)!r} + f"/k.{{i:04d}}.exr", Frame(h, px))
    """)
    proc = subprocess.Popen([sys.executable, "-c", script])
    deadline = time.time() + 120
    # wait until it is busy writing a frame after the first one
    while time.time() < deadline:
        if any(n.endswith(".recast-tmp") for n in os.listdir(tmp_path)) and \
                any(n.startswith("k.") for n in os.listdir(tmp_path)):
            break
        time.sleep(0.01)
    else:
        proc.kill()
        pytest.fail("the writer never got going")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    names = os.listdir(tmp_path)
    frames = sorted(n for n in names if n.startswith("k.") and n.endswith(".exr"))
    temps = [n for n in names if n.endswith(".recast-tmp")]
    assert frames, names
    assert temps, "the kill should have caught a frame mid-write"
    for n in frames:  # every file under a final name is complete
        f = read_frame(str(tmp_path / n))
        assert f.pixels.shape == (1024, 2048, 16)
    # the frame being written when killed is not under its final name
    killed = temps[0].split(".recast-tmp")[0].rsplit(".", 1)[0].lstrip(".")
    assert killed not in frames
    # writing that frame again clears the dead writer's leftover
    write_frame(str(tmp_path / killed), read_frame(str(tmp_path / frames[0])))
    assert not [n for n in os.listdir(tmp_path) if n.endswith(".recast-tmp")]
