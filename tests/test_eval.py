"""Gen-1's metrics on synthetic clips with a known answer, the CLI, and the review report."""

import json
import os

import numpy as np
import pytest

from recast.core.metrics.evaluate import evaluate
from recast.core.metrics.flow import flow_pair, occlusion, warp_error
from recast.core.io.frames import FrameRange
from tests.conftest import run_cli, write_exr

W, H, N = 96, 64, 6
LINEAR = "Linear Rec.709 (sRGB)"


def texture(seed=0, width=W + 40, height=H):
    """A smooth random texture (blurred noise), display values in [0.1, 0.9]."""
    import cv2

    rng = np.random.default_rng(seed)
    noise = rng.uniform(0, 1, (height, width, 3)).astype(np.float32)
    smooth = cv2.GaussianBlur(noise, (0, 0), 2.0)
    smooth = (smooth - smooth.min()) / (smooth.max() - smooth.min())
    return 0.1 + 0.8 * smooth


def to_linear(display):
    return np.where(display <= 0.04045, display / 12.92, ((display + 0.055) / 1.055) ** 2.4).astype(np.float32)


def write_clip(folder, frames, name="c"):
    os.makedirs(folder, exist_ok=True)
    for i, img in enumerate(frames):
        write_exr(os.path.join(folder, f"{name}.{1001 + i:04d}.exr"), to_linear(img), ("R", "G", "B"))
    return os.path.join(folder, f"{name}.####.exr")


def moving(shift=3, seed=0):
    tex = texture(seed)
    return [tex[:, i * shift:i * shift + W] for i in range(N)]  # the camera pans right: content moves left


@pytest.fixture(scope="module")
def loader(tiny_preset):
    from recast.core.models.loader import Loader

    return Loader(tiny_preset, "cpu", "fp32")


def measure(loader, tmp_path, plate_frames, result_frames, prompt="a claymation street"):
    plate = write_clip(tmp_path / "plate", plate_frames)
    result = write_clip(tmp_path / "result", result_frames)
    return evaluate(plate, result, FrameRange(1001, 1000 + N), prompt, loader, LINEAR)


def test_identical_frames_are_perfectly_consistent(loader, tmp_path):
    still = [texture(1)[:, :W]] * N
    ev = measure(loader, tmp_path, still, still)
    assert ev.means["frame_consistency"] == pytest.approx(1.0, abs=1e-5)
    assert ev.means["warp_error"] == pytest.approx(0.0, abs=1e-9)
    assert ev.means["structure_fidelity"] == pytest.approx(1.0, abs=1e-6)  # the result is the plate
    assert ev.per_frame[0]["frame_consistency"] is None and ev.per_frame[-1]["warp_error"] is None
    assert -1.0 <= ev.means["prompt_consistency"] <= 1.0


def test_flow_recovers_a_known_shift():
    a, b = moving(3)[:2]
    fwd, bwd = flow_pair(a, b)
    valid = ~occlusion(fwd, bwd)
    assert valid.mean() > 0.8  # only the strip that leaves the frame is occluded
    assert np.median(fwd[..., 0][valid]) == pytest.approx(-3.0, abs=0.25)
    assert np.median(np.abs(fwd[..., 1][valid])) < 0.25
    assert np.median(bwd[..., 0][valid]) == pytest.approx(3.0, abs=0.25)
    assert warp_error(a, b, fwd, bwd) < 5e-4


def test_warp_error_is_near_zero_for_the_moving_clip_and_large_when_frames_are_shuffled(loader, tmp_path):
    clip = moving(3)
    steady = measure(loader, tmp_path / "a", clip, clip)
    shuffled = measure(loader, tmp_path / "b", clip, [clip[i] for i in (3, 0, 5, 1, 4, 2)])
    assert steady.means["warp_error"] < 5e-4
    assert shuffled.means["warp_error"] > 20 * steady.means["warp_error"]
    assert shuffled.means["warp_error"] > 5e-3


def test_a_flickering_clip_scores_worse_than_a_steady_one(loader, tmp_path):
    clip = moving(2)
    flicker = [np.clip(img * (1.35 if i % 2 else 0.65), 0, 1) for i, img in enumerate(clip)]
    steady = measure(loader, tmp_path / "a", clip, clip)
    flickering = measure(loader, tmp_path / "b", clip, flicker)
    assert flickering.means["frame_consistency"] < steady.means["frame_consistency"]
    assert flickering.means["warp_error"] > 10 * steady.means["warp_error"]


def test_structure_fidelity_drops_when_the_structure_is_lost(loader, tmp_path):
    clip = moving(2)
    noise = [texture(50 + i, W, H) for i in range(N)]
    same = measure(loader, tmp_path / "a", clip, clip)
    lost = measure(loader, tmp_path / "b", clip, noise)
    assert same.means["structure_fidelity"] == pytest.approx(1.0, abs=1e-6)
    assert lost.means["structure_fidelity"] < 0.9


def test_cli_json_table_and_report(tmp_path):
    clip = moving(2)
    plate = write_clip(tmp_path / "plate", clip)
    # a chunked result: two frames carry the assemble step's header naming chunks 1001-1003 and 1004-1006
    os.makedirs(tmp_path / "render")
    for i, img in enumerate(clip):
        attrs = [("recast/chunks", "string", "1001-1003:0.625, 1004-1006:0.375")] if i in (2, 3) else []
        write_exr(tmp_path / "render" / f"r.{1001 + i}.exr", to_linear(img), ("R", "G", "B"), attrs=attrs)
    result = str(tmp_path / "render" / "r.####.exr")
    args = ["eval", "--plate", plate, "--result", result, "--prompt", "a street", "--model", "tiny", "--device", "cpu"]
    r = run_cli(*args, "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    for key in ("frame_consistency", "prompt_consistency", "warp_error", "structure_fidelity"):
        assert isinstance(out[key], float), key
        assert [set(row) for row in out["per_frame"]] == [{"frame", "frame_consistency", "prompt_consistency",
                                                            "warp_error", "structure_fidelity"}] * N
    assert [row["frame"] for row in out["per_frame"]] == list(range(1001, 1007))
    assert out["chunk_boundaries"] == [1003]
    report = out["report"]
    folder = tmp_path / "recast_report" / "r_v001"  # numbered per render: never overwritten
    assert report == str(folder / "index.html") and out["result"] == result
    page = open(report, encoding="utf-8").read()
    assert 'src="contact_sheet.png"' in page and 'src="metrics.png"' in page and "a street" in page
    assert "boundaries after frames 1003" in page
    import OpenImageIO as oiio

    for name, min_size in (("contact_sheet.png", (600, 300)), ("metrics.png", (800, 600))):
        buf = oiio.ImageBuf(str(folder / name))
        assert buf.spec().width >= min_size[0] and buf.spec().height >= min_size[1], name
        px = buf.get_pixels(oiio.FLOAT)
        assert px[..., :3].std() > 0.05, name  # drawn, not blank
    assert json.load(open(folder / "metrics.json"))["chunk_boundaries"] == [1003]
    assert sorted(os.listdir(tmp_path / "recast_report")) == ["r_v001"]  # no hidden half-written folder left

    table = run_cli(*args, "--report", tmp_path / "rep2")
    assert table.returncode == 0
    assert "frame_consistency" in table.stdout and "chunk boundaries after frames 1003" in table.stdout
    assert table.stdout.strip().splitlines()[-1] == f"report: {tmp_path / 'rep2' / 'index.html'}"


def test_each_evaluation_is_a_new_report_and_none_is_overwritten(tmp_path):
    clip = moving(2)
    plate = write_clip(tmp_path / "plate", clip)
    for name in ("a", "b"):  # two renders in one folder
        os.makedirs(tmp_path / "render", exist_ok=True)
        for i, img in enumerate(clip[:3]):
            write_exr(tmp_path / "render" / f"{name}.{1001 + i}.exr", to_linear(img), ("R", "G", "B"))
    base = ["eval", "--plate", plate, "--frames", "1001-1003", "--model", "tiny", "--device", "cpu", "--json"]
    pages = []
    for name, prompt in (("a", "first"), ("b", "second"), ("a", "third")):
        r = run_cli(*base, "--result", str(tmp_path / "render" / f"{name}.####.exr"), "--prompt", prompt)
        assert r.returncode == 0, r.stderr
        pages.append(json.loads(r.stdout)["report"])
    reports = tmp_path / "recast_report"
    assert pages == [str(reports / d / "index.html") for d in ("a_v001", "b_v001", "a_v002")]
    for page, prompt in zip(pages, ("first", "second", "third")):  # each kept its own
        assert f"<q>{prompt}</q>" in open(page, encoding="utf-8").read()
    assert sorted(os.listdir(reports)) == ["a_v001", "a_v002", "b_v001"]
    # a --report folder that holds something is refused before anything is measured, and left as it was
    before = sorted(os.listdir(reports / "a_v001"))
    r = run_cli(*base, "--result", str(tmp_path / "render" / "a.####.exr"), "--report", reports / "a_v001")
    assert r.returncode == 1 and "is not empty (a report is never overwritten)" in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and r.stdout == ""
    assert sorted(os.listdir(reports / "a_v001")) == before and "<q>first</q>" in open(pages[0]).read()


def test_eval_errors_are_one_line(tmp_path, plate):
    r = run_cli("eval", "--plate", plate, "--result", str(tmp_path / "none" / "r.####.exr"), "--model", "tiny")
    assert r.returncode == 1 and "no frames match" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    r = run_cli("eval", "--plate", plate)
    assert r.returncode == 1 and "give --job FILE, or --plate and --result" in r.stderr
    os.remove(plate.replace("####", "1004"))
    r = run_cli("eval", "--plate", plate, "--result", plate, "--frames", "1001-1006", "--model", "tiny",
                "--report", tmp_path / "rep")
    assert r.returncode == 1 and "1 plate frame(s) of 1001-1006 are missing: 1004" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and not (tmp_path / "rep").exists()
