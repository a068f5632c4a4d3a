"""The Recast extension in real Blender: 4.2 LTS and 5.0 (``bpy`` from PyPI), side by side.

Each Blender gets its own virtual environment (bpy 5.0 pins numpy<2), made on first use and
kept in ``$RECAST_BPY_CACHE`` (default ``~/.cache/recast/bpy``) for later runs; the Recast
worker is this environment's. A Blender that cannot be installed (no network, no wheel for
this platform) skips its tests with the reason. What differs between the two (the sequencer's API, image
formats, the sequencer scene, the validator) and the core render run on both; the panel's other features, which
go through the same compatibility layer, on 5.0.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import listing

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCENARIOS = os.path.join(REPO, "tests", "blender_scenarios.py")
CACHE = os.environ.get("RECAST_BPY_CACHE", os.path.join(os.path.expanduser("~"), ".cache", "recast", "bpy"))
VERSIONS = ["4.2.23", "5.0.1"]


def _bpy_python(version: str) -> str:
    """The Python of a venv holding ``bpy==version`` (made on first use; the test skips where it cannot be)."""
    venv = os.path.join(CACHE, version)
    python = os.path.join(venv, "bin", "python")
    check = [python, "-c", f"import bpy, sys; sys.exit(bpy.app.version_string.split()[0] != {version!r})"]
    if not (os.path.exists(python) and subprocess.run(check, capture_output=True).returncode == 0):
        made = subprocess.run([sys.executable, "-m", "venv", "--clear", venv], capture_output=True, text=True)
        inst = made.returncode == 0 and subprocess.run(
            [python, "-m", "pip", "install", "-q", f"bpy=={version}"], capture_output=True, text=True, timeout=1500)
        if not inst or inst.returncode != 0 or subprocess.run(check, capture_output=True).returncode != 0:
            why = (inst.stderr if inst else made.stderr).strip().splitlines()[-1:] or ["?"]
            pytest.skip(f"bpy {version} could not be installed: {why[0]}")
    return python


@pytest.fixture(scope="session", params=VERSIONS)
def blender(request):
    """Each Blender in turn: for what differs between 4.2 LTS and 5.0 (the sequencer's API, image formats, the
    sequencer scene, the manifest validator), and the core render and its errors."""
    return _bpy_python(request.param)


@pytest.fixture(scope="session")
def blender_latest():
    """Blender 5.0 alone: for the panel's features that go through the same compat layer as the render (run on both
    they doubled the suite's Blender time for no API the render does not already cover)."""
    return _bpy_python(VERSIONS[-1])


@pytest.fixture(scope="session")
def addon_zip(tmp_path_factory):
    import importlib.util

    spec = importlib.util.spec_from_file_location("recast_addon_build", os.path.join(REPO, "blender_addon", "build.py"))
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    return build.build(str(tmp_path_factory.mktemp("addon")))


def scenario(blender, addon_zip, tmp_path, name, **args):
    env = {**os.environ, "BLENDER_USER_RESOURCES": str(tmp_path / "blender_user"),
           "RECAST_WORKER": f"{sys.executable} -m recast.core", "PYTHONNOUSERSITE": "1"}
    args = {"zip": addon_zip, "out": str(tmp_path / "out"), **args}
    run = subprocess.run([blender, SCENARIOS, name, json.dumps(args)], capture_output=True, text=True,
                         timeout=600, env=env, cwd=tmp_path)
    lines = [line for line in run.stdout.splitlines() if line.startswith("RESULT ")]
    assert run.returncode == 0 and lines, f"{name} failed:\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
    return json.loads(lines[-1][len("RESULT "):])


@pytest.fixture
def plate_args(plate):
    folder = os.path.dirname(plate)
    return {"plate_dir": folder, "names": sorted(os.listdir(folder))}


def test_extension_zip_holds_the_manifest_modules_and_recast_wheel(addon_zip):
    import zipfile

    names = zipfile.ZipFile(addon_zip).namelist()
    assert "blender_manifest.toml" in names and "__init__.py" in names
    assert "wheels/recast-0.1.0-py3-none-any.whl" in names
    assert not any(n.endswith("build.py") for n in names)


def test_recast_an_image_strip_adds_the_result_above_in_sync(blender, addon_zip, tmp_path, plate_args):
    r = scenario(blender, addon_zip, tmp_path, "render", **plate_args)
    assert r["error"] is None
    (new,) = r["new"]
    # source on channel 2 from frame 10; channel 3 is busy over 12-14, so the result goes to 4
    assert new["name"] == "plate recast v001" and new["type"] == "IMAGE" and new["channel"] == 4
    assert (new["start"], new["length"]) == (10, 6) and new["exist"]
    assert [os.path.basename(f) for f in new["files"]] == [f"plate.{f}.exr" for f in range(1001, 1007)]
    assert new["colorspace"] == "ACEScg"
    job = r["job"]
    assert job["input"]["pattern"] == os.path.join(plate_args["plate_dir"], "sh010.####.exr")  # used in place
    assert job["input"]["frames"] == "1001-1006" and job["input"]["colorspace"] == "ACEScg"
    assert job["model"] == "tiny" and job["steps"] == 2
    assert [n for n in listing(tmp_path / "out" / "plate" / "render" / "v001") if not n.startswith(".")] == [
        f"plate.{f}.exr" for f in range(1001, 1007)]


def test_the_timer_work_follows_progress_and_esc_cancels(blender_latest, addon_zip, tmp_path, plate_args):
    r = scenario(blender_latest, addon_zip, tmp_path, "modal_and_cancel", **plate_args)
    assert r["state"] == "cancelled" and "nothing was added" in r["message"] and r["after_cancel"] == []
    assert r["polls"] > 0 and all(m.startswith("Recast 'plate': ") for m in r["progress_messages"])
    assert r["again"] == "done" and r["again_strip"] == "plate recast v002"  # steps changed: a new version


def test_errors_are_one_line_and_add_nothing(blender, addon_zip, tmp_path, plate_args):
    r = scenario(blender, addon_zip, tmp_path, "errors", **plate_args)
    assert "Recast: no active strip" in r["no strip"]
    assert "Recast: strip 'color' is a color strip; Recast works on image-sequence, movie and scene strips" in \
        r["unsupported"]
    assert "the Recast worker '/nowhere/recast' was not found" in r["worker missing"]
    assert "Recast: no prompt: type one, or choose a reference image" in r["no prompt"]
    assert "failed: " in r["worker failed"] and "cuda" in r["worker failed"].lower()
    assert os.path.join(tmp_path, "out", "plate", "logs", r["logs"][0]) in r["worker failed"]
    assert "job field 'window.overlap': 4 is not allowed" in r["bad value"]
    assert "Recast: no output folder: save the .blend file first, or set an absolute output folder" in r["unsaved"]
    assert r["added"] == [] and len(r["logs"]) == 1
    for key in ("no strip", "unsupported", "worker missing", "no prompt", "worker failed", "bad value", "unsaved"):
        assert "\n" not in r[key].strip(), key


def test_parameters_survive_saving_and_reloading_the_blend(blender_latest, addon_zip, tmp_path):
    r = scenario(blender_latest, addon_zip, tmp_path, "save_and_reload")
    assert r == {"prompt": "ünïcode 'prompt' $x", "negative_prompt": "blur", "seed": 77, "strength": 0.5,
                 "structure_level": 6, "temporal_guidance": pytest.approx(1.7), "model": "default", "device": "cuda",
                 "precision": "bf16", "window_length": 12, "reference_image": "//ref.exr"}


def test_a_scene_strip_renders_with_its_true_depth(blender, addon_zip, tmp_path):
    r = scenario(blender, addon_zip, tmp_path, "scene_strip")
    assert r["error"] is None
    (new,) = r["new"]
    assert new["name"] == "cg shot recast v001" and (new["start"], new["length"]) == (5, 4) and new["exist"]
    job = r["job"]
    assert job["input"]["depth_channel"] == "ViewLayer.Depth.Z" and job["input"]["frames"] == "1-4"
    import OpenImageIO as oiio

    spec = oiio.ImageInput.open(new["files"][0]).spec()
    assert "ViewLayer.Depth.Z" in spec.channelnames and "ViewLayer.Combined.R" in spec.channelnames


def test_png_and_movie_strips_are_written_as_exr_plates_first(blender, addon_zip, tmp_path):
    r = scenario(blender, addon_zip, tmp_path, "other_sources")
    assert "the plate cannot be written to" in r["unwritable"] and "Traceback" not in r["unwritable"]
    assert len(r["unwritable"].strip().splitlines()) == 1
    assert r["png error"] is None and r["movie error"] is None and r["png again"] is None
    assert r["plate kept"]  # a second press on an unchanged strip reuses its plate: the worker can resume
    png, movie = r["new"]
    assert (png["name"], png["start"], png["length"], png["exist"]) == ("png shot recast v001", 1, 4, True)
    assert (movie["name"], movie["start"], movie["length"], movie["exist"]) == ("movie shot recast v001", 20, 4, True)
    png_job, movie_job = r["jobs"]
    assert png_job["input"]["pattern"] == str(tmp_path / "out" / "png_shot" / "plate" / "png_shot.####.exr")
    assert png_job["input"]["frames"] == "1-4" and png_job["input"]["colorspace"] == "Linear Rec.709 (sRGB)"
    assert movie_job["input"]["frames"] == "20-23"
    assert [n for n in listing(tmp_path / "out" / "movie_shot" / "plate") if not n.startswith(".")] == [
        f"movie_shot.{f:04d}.exr" for f in range(20, 24)]
    import OpenImageIO as oiio

    # the PNG's sRGB values came back as scene linear: 4/8 encoded is about 0.214 linear
    buf = oiio.ImageBuf(str(tmp_path / "out" / "png_shot" / "plate" / "png_shot.0001.exr"))
    assert abs(float(buf.getpixel(4, 0)[0]) - 0.214) < 0.01


def test_submit_to_farm_writes_the_job_and_an_openjd_bundle(blender_latest, addon_zip, tmp_path, plate_args):
    r = scenario(blender_latest, addon_zip, tmp_path, "submit", **plate_args)
    assert r["error"] is None and r["added"] == []
    assert r["bundle"] == ["job.json", "parameter_values.json", "template.json"]
    assert r["prompt"] == "it's a \"dusk\" $SHOT"
    assert r["chunk_size"] == 5  # the panel's farm chunk size


def test_an_exr_strip_whose_bounding_box_moves_renders_in_place_and_keeps_each_frames_window(blender_latest, addon_zip,
                                                                                              tmp_path):
    from recast.core.io.exrio import read_frame
    from recast.core.io.layout import Window
    from tests.test_real_plates import MOVING, _moving_plate

    os.makedirs(tmp_path / "mv")
    _moving_plate(tmp_path / "mv")
    folder = tmp_path / "mv" / "plate"
    r = scenario(blender_latest, addon_zip, tmp_path, "render", plate_dir=str(folder), names=sorted(os.listdir(folder)))
    assert r["error"] is None and r["new"][0]["exist"]
    assert r["job"]["input"]["pattern"] == str(folder / "sh010.####.exr")  # used in place, not converted
    for f, (x, y, w, h) in MOVING.items():
        got = read_frame(str(tmp_path / "out" / "plate" / "render" / "v001" / f"plate.{f}.exr"))
        assert got.header.data_window == Window(x, y, w, h)


def test_blenders_own_validator_accepts_the_extension_zip(blender, addon_zip):
    """Blender's extension validator (``blender_ext.py validate``, shipped with bpy) refuses, e.g., a tagline
    over 64 characters, which installing through the Python API does not check."""
    import glob as _glob

    site = os.path.dirname(os.path.dirname(blender))
    found = _glob.glob(os.path.join(site, "lib", "python3*", "site-packages", "bpy", "*", "scripts", "addons_core",
                                    "bl_pkg", "cli", "blender_ext.py"))
    if not found:
        pytest.skip("this bpy has no blender_ext.py validator")
    r = subprocess.run([blender, found[0], "validate", addon_zip], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "FATAL" not in r.stdout + r.stderr, r.stdout + r.stderr


def test_blender_5_edits_the_sequencer_scene(blender, addon_zip, tmp_path, plate_args):
    r = scenario(blender, addon_zip, tmp_path, "sequencer_scene", **plate_args)
    if r.get("skipped"):
        pytest.skip(r["skipped"])
    assert r["error"] is None and len(r["new"]) == 1 and r["new"][0]["exist"]


def test_a_new_render_of_a_strip_is_a_new_version_and_the_earlier_strip_keeps_its_frames(blender_latest, addon_zip, tmp_path,
                                                                                          plate_args):
    r = scenario(blender_latest, addon_zip, tmp_path, "versions", **plate_args)
    assert r["errors"] == [None, None]
    first, second = r["strips"]
    assert first["name"] == "plate recast v001" and second["name"] == "plate recast v002"
    assert all("/v001/" in f for f in first["files"]) and all("/v002/" in f for f in second["files"])
    assert r["first_unchanged"]


def test_the_panel_greys_out_what_cannot_be_used(blender_latest, addon_zip, tmp_path, plate_args):
    r = scenario(blender_latest, addon_zip, tmp_path, "panel_draw", **plate_args)
    nothing, plain, with_ref = r["no strip"], r["strip, no reference"], r["strip and reference"]
    assert nothing["operator:recast.recast_strip"] is False and nothing["operator:recast.submit_strip"] is False
    assert plain["operator:recast.recast_strip"] is True
    assert plain["prop:reference_weight"] is False and with_ref["prop:reference_weight"] is True
    assert "prop:reference_image" in plain and "prop:farm_chunk_size" not in plain  # advanced closed
    assert nothing["operator:recast.matte_strip"] is False and plain["operator:recast.matte_strip"] is True
    assert plain["prop:mask_invert"] is False  # nothing to invert without a mask strip


def test_the_panel_shows_missing_model_parts_and_fetches_them_in_the_background(blender_latest, addon_zip, tmp_path,
                                                                                plate_args, fake_hub):
    import time

    hub, preset = fake_hub
    hub.delay = lambda: time.sleep(0.2)  # slow enough for the panel's Cancel to land mid-fetch
    r = scenario(blender_latest, addon_zip, tmp_path, "fetch_models", preset=preset, **plate_args)
    assert r["before"] == ["models 'hubtiny': not checked"]
    assert "is not in the Hugging Face cache" in r["render"] and "Fetch models downloads it" in r["render"]
    assert r["checked"] == ["models 'hubtiny': 7 of 7 parts missing (base, controlnet, motion_adapter, ip_adapter, "
                            "image_encoder, depth, clip); Fetch models downloads them"]
    assert len(r["during"]) == 1 and r["during"][0].startswith("fetching: fetching model parts: ")
    assert r["cancelled"] == ["WARNING", "Recast: fetching the models of 'hubtiny' was cancelled; Fetch models resumes it"]
    assert r["fetch"] == "{'FINISHED'}"
    assert len(r["fetched"]) == 1 and r["fetched"][0].startswith("models 'hubtiny': all 7 parts present (")
    assert r["render again"] is None and "plate recast v001" in r["strips"]


def test_train_lora_on_a_strip_fills_a_slot_and_the_render_uses_it(blender_latest, addon_zip, tmp_path):
    from recast.core.io.exrio import read_header
    from recast.core.shot.synthetic import write_synthetic_plate

    folder = tmp_path / "plate"
    write_synthetic_plate(str(folder / "sh040.####.exr"), 1, 4, width=96, height=64)  # 64 px a side to train
    r = scenario(blender_latest, addon_zip, tmp_path, "train_lora", plate_dir=str(folder), names=sorted(os.listdir(folder)))
    lora = os.path.join(tmp_path, "out", "plate", "lora", "plate_sks_clay.safetensors")
    assert r["level"] == "INFO" and r["message"] == (f"Recast: LoRA trained: {lora}, in slot 1; use 'sks clay' in "
                                                     "the prompt")
    assert r["lora_1"] == lora and r["weight"] == 1.0 and os.path.isfile(lora)
    assert any("training" in m and "steps" in m for m in r["progress_messages"])
    assert r["render"] is None and len(r["result"]) == 1
    note = read_header(r["result"][0]["files"][0]).attribute("recast/loras")
    assert note.startswith("plate_sks_clay.safetensors@1 sha256:")
    assert r["cancelled"] == ["WARNING", "Recast: training cancelled; Train LoRA with the same settings resumes it"]
    assert r["lora_1_after"] == lora and os.path.isfile(lora)


def test_matte_strip_from_a_point_and_a_render_that_keeps_the_object(blender_latest, addon_zip, tmp_path, plate_args):
    import numpy as np

    from recast.core.io.exrio import read_frame

    r = scenario(blender_latest, addon_zip, tmp_path, "matte", **plate_args)
    assert r["matte"] is None
    (strip,) = r["strips"]
    assert strip["name"] == "plate matte v001" and strip["channel"] == 3 and strip["exist"]
    assert (strip["start"], strip["length"], strip["colorspace"]) == (10, 6, "Non-Color")
    assert r["mask_strip"] == "plate matte v001"
    matte = str(tmp_path / "out" / "plate" / "matte" / "v001" / "plate_matte.####.exr")
    assert r["recast_matte"] == matte
    assert r["render"] is None and r["job_input"]["mask_pattern"] == matte and r["job_input"]["mask_invert"] is True
    header = read_frame(matte.replace("####", "1003")).header
    assert header.attribute("recast/matte/prompts") == '[{"name":"matte","points":["1003:30,28,+"],"boxes":[]}]'
    kept = 0
    for f in range(1001, 1007):
        a = read_frame(matte.replace("####", str(f))).channel("A")
        src = read_frame(os.path.join(plate_args["plate_dir"], f"sh010.{f}.exr")).pixels[:, :, :3]
        got = read_frame(str(tmp_path / "out" / "plate" / "render" / "v001" / f"plate.{f}.exr")).pixels[:, :, :3]
        kept += int((a == 1.0).sum())
        assert np.array_equal(got[a == 1.0], src[a == 1.0])  # the clicked object kept, bit-exact
    assert kept > 0
    assert "no prompt: add a point" in r["no point"]
    assert "frame 1031 is outside the range 1001-1006" in r["outside the strip"]
    assert "is outside the display window (64x40" in r["outside the image"]
    assert "the mask strip 'nothing here' is not in the sequencer" in r["no mask strip"]
    for key in ("no point", "outside the strip", "outside the image", "no mask strip"):
        assert "\n" not in r[key].strip(), key


def test_the_fast_tier_from_the_panel_takes_its_presets_steps(blender_latest, addon_zip, tmp_path, plate_args):
    from recast.core.io.exrio import read_header

    r = scenario(blender_latest, addon_zip, tmp_path, "fast", **plate_args)
    assert r["error"] is None and (r["model"], r["steps"], r["guidance"]) == ("tiny-fast", None, None)
    (strip,) = r["result"]
    h = read_header(strip["files"][0])
    assert (h.attribute("recast/steps"), h.attribute("recast/guidance_scale")) == ("4", "1.5")


def test_the_wan_backend_from_the_panel(blender_latest, addon_zip, tmp_path, plate_args):
    from recast.core.io.exrio import read_header

    r = scenario(blender_latest, addon_zip, tmp_path, "wan", **plate_args)
    assert r["error"] is None
    (strip,) = r["result"]
    assert strip["exist"] and strip["length"] == 6
    assert read_header(strip["files"][0]).attribute("recast/renderer").startswith("Wan 2.1 VACE")
