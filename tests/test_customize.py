"""Customization: ``recast customize`` trains a LoRA on a few images (tiny preset), and the job's ``loras``
fuse it (and kohya-format ones) into the render — judged by losses, files, headers and frames."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import numpy as np
import pytest
import torch

from recast.core.io.exrio import read_frame
from recast.core.job import Job
from recast.core.pipeline.render import render
from tests.conftest import RECAST, events, job_dict, listing, run_cli, write_exr
from tests.test_render import Collect


def _images(folder, count=4):
    """Generated training images as productions hand them over: PNGs of several sizes, a scene-linear EXR with
    values far above 1, one caption file."""
    import OpenImageIO as oiio

    os.makedirs(folder, exist_ok=True)
    for i in range(count):
        h, w = (96, 128) if i % 2 == 0 else (80, 72)
        y, x = np.mgrid[0:h, 0:w]
        img = np.stack([x / w * (i + 1) / count, y / h, np.full((h, w), 0.25 * i)], -1).astype(np.float32)
        img[(x - w / 2) ** 2 + (y - h / 2) ** 2 < (12 + 4 * i) ** 2] = [0.9, 0.2, 0.1]
        if i == count - 1:
            write_exr(os.path.join(folder, f"look_{i}.exr"), img * 6.0, ["R", "G", "B"])
            continue
        path = os.path.join(folder, f"look_{i}.png")
        out = oiio.ImageOutput.create(path)
        out.open(path, oiio.ImageSpec(w, h, 3, "uint8"))
        out.write_image(np.clip(img, 0, 1))
        out.close()
    with open(os.path.join(folder, "look_0.txt"), "w") as fh:
        fh.write("a red ball on a gradient")
    return str(folder)


def customize(out, images, *extra, steps=12):
    return run_cli("customize", "--images", images, "--out", out, "--model", "tiny", "--steps", steps, "--rank", 4,
                   "--lr", "1e-3", "--resolution", 64, "--device", "cpu", "--json", *extra)


@pytest.fixture(scope="module")
def trained(tmp_path_factory, recast_cache):
    folder = tmp_path_factory.mktemp("customize")
    images = _images(folder / "images")
    out = str(folder / "look.safetensors")
    r = customize(out, images)
    assert r.returncode == 0, r.stderr
    return out, events(r.stdout), images


def _render(tmp_path, name, **overrides):
    job = Job.from_dict(job_dict(output={"pattern": f"{name}/r.####.exr"}, **overrides), str(tmp_path))
    render(job, reporter=Collect())
    return {f: read_frame(job.output_sequence.path(f)) for f in range(1001, 1007)}


# --- training ----------------------------------------------------------------------------

def test_training_lowers_the_loss_on_fixed_noise_and_writes_a_diffusers_lora_with_metadata(trained):
    from safetensors import safe_open

    out, evs, _ = trained
    done = evs[-1]
    assert evs[0]["event"] == "start" and evs[0]["total"] == 12 and evs[0]["images"] == 4
    assert done["event"] == "done" and done["loss_end"] < done["loss_start"] and done["resumed_from"] == 0
    steps = [e for e in evs if e["event"] == "progress" and e["stage"] == "train"]
    assert [e["done"] for e in steps] == list(range(1, 13)) and all("loss" in e for e in steps)
    with safe_open(out, framework="pt") as fh:
        meta, keys = fh.metadata(), list(fh.keys())
    assert meta["recast.token"] == "sks" and meta["recast.steps"] == "12" and meta["recast.rank"] == "4"
    assert meta["recast.alpha"] == "4" and meta["recast.base_preset"] == "tiny" and meta["recast.version"]
    assert meta["recast.base_model"].endswith("base") and meta["recast.images"] == "4"
    assert keys and all(k.startswith("unet.") for k in keys)
    assert not any("motion" in k or "temp" in k for k in keys)  # spatial attention only
    assert {k.split(".")[-4] for k in keys} == {"to_q", "to_k", "to_v", "0"}  # to_out.0
    assert not os.path.exists(out + ".checkpoint") and listing(os.path.dirname(out)) == ["images", "look.safetensors"]


def test_the_same_seed_trains_the_same_lora(trained, tmp_path):
    from safetensors.torch import load_file

    out, _, images = trained
    again = str(tmp_path / "again.safetensors")
    assert customize(again, images).returncode == 0
    a, b = load_file(out), load_file(again)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_stock_diffusers_loads_the_lora_and_it_changes_the_picture(trained, tiny_preset):
    from diffusers import StableDiffusionPipeline

    out, _, _ = trained
    pipe = StableDiffusionPipeline.from_pretrained(os.path.join(os.path.dirname(tiny_preset.path), "base"),
                                                   safety_checker=None, requires_safety_checker=False)
    pipe.set_progress_bar_config(disable=True)

    def picture():
        return pipe("sks", num_inference_steps=2, height=64, width=64, output_type="np",
                    generator=torch.Generator().manual_seed(0)).images

    before = picture()
    pipe.load_lora_weights(out)
    assert np.abs(picture() - before).max() > 1e-3


def test_a_cancelled_run_resumes_from_its_checkpoint_and_equals_an_uninterrupted_one(trained, tmp_path):
    from safetensors.torch import load_file

    _, _, images = trained
    whole, resumed = str(tmp_path / "whole.safetensors"), str(tmp_path / "resumed.safetensors")
    args = ["--checkpoint-every", "4"]
    assert customize(whole, images, *args, steps=24).returncode == 0
    proc = subprocess.Popen(RECAST + ["customize", "--images", images, "--out", resumed, "--model", "tiny", "--steps",
                                      "24", "--rank", "4", "--lr", "1e-3", "--resolution", "64", "--device", "cpu",
                                      "--json", "--control", "stdin", *args],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen = []
    for line in proc.stdout:
        seen.append(json.loads(line))
        if seen[-1]["event"] == "progress" and seen[-1]["stage"] == "train" and seen[-1]["done"] >= 6:
            proc.stdin.write("cancel\n")
            proc.stdin.flush()
            break
    out, _ = proc.communicate(timeout=120)
    last = events(out)[-1] if out.strip() else seen[-1]
    assert proc.returncode == 143 and last["event"] == "error" and last["cancelled"]
    assert not os.path.exists(resumed) and os.path.isdir(resumed + ".checkpoint")
    r = customize(resumed, images, *args, steps=24)
    done = events(r.stdout)[-1]
    assert r.returncode == 0 and 6 <= done["resumed_from"] < 24
    # news, not a warning: the first progress event says where the run picked up
    assert not any(e["event"] == "warning" for e in events(r.stdout))
    assert any(e["event"] == "progress" and e.get("resumed_from") == done["resumed_from"] for e in events(r.stdout))
    a, b = load_file(whole), load_file(resumed)
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_text_encoder_lora_and_prior_preservation(trained, tmp_path, plate):
    """--train-text-encoder puts text_encoder.* weights in the file, and a render with it changes the prompt's
    embedding too (its cached content is keyed by the LoRA); class images add the prior loss."""
    from safetensors import safe_open

    _, _, images = trained
    out = str(tmp_path / "te.safetensors")
    r = customize(out, images, "--train-text-encoder", "--class-images", _images(tmp_path / "class", 2),
                  "--class-prompt", "a ball", steps=4)
    assert r.returncode == 0, r.stderr
    with safe_open(out, framework="pt") as fh:
        keys, meta = list(fh.keys()), fh.metadata()
    assert any(k.startswith("text_encoder.") for k in keys) and any(k.startswith("unet.") for k in keys)
    assert meta["recast.text_encoder"] == "True" and meta["recast.prior_preservation"] == "True"
    plain = _render(tmp_path, "plain_te")
    with_te = _render(tmp_path, "with_te", loras=[{"path": out, "weight": 1.0}])
    assert max(np.abs(plain[f].rgb() - with_te[f].rgb()).max() for f in plain) > 1e-4
    content = os.listdir(tmp_path / "with_te" / "recast_cache" / "content")
    assert len(content) == 1 and content != os.listdir(tmp_path / "plain_te" / "recast_cache" / "content")


def test_frames_of_a_plate_train_too(tmp_path):
    from recast.core.shot.synthetic import write_synthetic_plate

    plate = str(tmp_path / "plate" / "sh020.####.exr")
    write_synthetic_plate(plate, 1001, 6, width=128, height=72)
    r = customize(str(tmp_path / "plate_look.safetensors"), plate, "--frames", "1001-1004", steps=2)
    assert r.returncode == 0, r.stderr
    assert events(r.stdout)[0]["images"] == 4


# --- rendering with LoRAs ------------------------------------------------------------------

def test_weight_zero_is_bit_identical_to_no_lora_and_weight_one_changes_the_frames(trained, tmp_path, plate):
    out, _, _ = trained
    plain = _render(tmp_path, "plain")
    zero = _render(tmp_path, "zero", loras=[{"path": out, "weight": 0.0}])
    one = _render(tmp_path, "one", loras=[{"path": out, "weight": 1.0}])
    assert all(np.array_equal(plain[f].pixels, zero[f].pixels) for f in plain)
    assert max(np.abs(plain[f].rgb() - one[f].rgb()).max() for f in plain) > 1e-3
    note = one[1001].header.attribute("recast/loras")
    assert note.startswith("look.safetensors@1 sha256:") and plain[1001].header.attribute("recast/loras") is None


def test_a_kohya_named_copy_renders_like_the_diffusers_one_and_two_loras_combine(trained, tmp_path, plate):
    from diffusers import StableDiffusionPipeline
    from diffusers.utils import convert_state_dict_to_kohya, convert_unet_state_dict_to_peft
    from safetensors.torch import save_file

    out, _, _ = trained
    state, _ = StableDiffusionPipeline.lora_state_dict(out)
    peft = convert_unet_state_dict_to_peft({k[len("unet."):]: v for k, v in state.items()})
    kohya = {k: v.contiguous() for k, v in convert_state_dict_to_kohya({"unet." + k: v for k, v in peft.items()}).items()}
    assert kohya and all(k.startswith("lora_unet_") for k in kohya) and any(k.endswith(".alpha") for k in kohya)
    kohya_path = str(tmp_path / "look_kohya.safetensors")
    save_file(kohya, kohya_path, metadata={"ss_network_module": "networks.lora"})
    diffusers_frames = _render(tmp_path, "diffusers", loras=[{"path": out, "weight": 0.8}])
    kohya_frames = _render(tmp_path, "kohya", loras=[{"path": kohya_path, "weight": 0.8}])
    # every channel (the depth AOV holds infinities, equal in both) within float tolerance
    assert all(np.allclose(diffusers_frames[f].pixels, kohya_frames[f].pixels, atol=1e-4) for f in diffusers_frames)
    # two at once: the kohya copy and a second LoRA, each with its weight
    other = str(tmp_path / "other.safetensors")
    assert customize(other, _images(tmp_path / "other_images", 2), "--seed", "7", steps=4).returncode == 0
    both = _render(tmp_path, "both", loras=[{"path": kohya_path, "weight": 0.8}, {"path": other, "weight": -1.5}])
    assert max(np.abs(both[f].rgb() - kohya_frames[f].rgb()).max() for f in both) > 1e-4
    note = both[1001].header.attribute("recast/loras")
    assert "look_kohya.safetensors@0.8" in note and "other.safetensors@-1.5" in note


def test_retraining_into_the_same_file_is_a_new_render_not_a_resume(trained, tmp_path):
    out, _, images = trained
    path = str(tmp_path / "mine.safetensors")
    shutil.copy(out, path)
    job = Job.from_dict(job_dict(loras=[{"path": path, "weight": 1.0}]), str(tmp_path))
    before = job.fingerprint()
    assert customize(path, images, "--seed", "3", steps=2).returncode == 0
    assert job.fingerprint() != before


def test_loras_on_the_command_line(trained, tmp_path, plate):
    out, _, _ = trained
    r = run_cli("render", "--input", plate, "--output", tmp_path / "cli" / "r.####.exr", "--model", "tiny", "--prompt",
                "sks", "--steps", 1, "--resolution", 64, "--device", "cpu", "--loras", f"{out}:0.5", "--json",
                "--save-job", tmp_path / "saved.json")
    assert r.returncode == 0, r.stderr
    assert json.load(open(tmp_path / "saved.json"))["loras"] == [{"path": out, "weight": 0.5}]


# --- bad input: one line, exit 1, nothing written ---------------------------------------------

def _bad_lora_files(tmp_path, good):
    from safetensors.torch import save_file

    files = {}
    files["pickle"] = str(tmp_path / "old.ckpt")
    torch.save({"x": torch.zeros(1)}, files["pickle"])
    files["text"] = str(tmp_path / "notes.safetensors")
    with open(files["text"], "w") as fh:
        fh.write("this is not a LoRA")
    files["truncated"] = str(tmp_path / "cut.safetensors")
    with open(good, "rb") as fh:
        data = fh.read()
    with open(files["truncated"], "wb") as fh:
        fh.write(data[: len(data) * 2 // 3])
    files["sdxl"] = str(tmp_path / "sdxl_style.safetensors")
    save_file({"lora_unet_down_blocks_1_attentions_0_transformer_blocks_0_attn2_to_k.lora_down.weight":
               torch.zeros(4, 2048), "lora_unet_down_blocks_1_attentions_0_transformer_blocks_0_attn2_to_k.lora_up"
               ".weight": torch.zeros(640, 4)}, files["sdxl"], metadata={"ss_base_model_version": "sdxl_base_v1-0"})
    files["sd2"] = str(tmp_path / "sd2_style.safetensors")
    save_file({"unet.down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k.lora.down.weight": torch.zeros(4, 1024),
               "unet.down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k.lora.up.weight": torch.zeros(320, 4)},
              files["sd2"])
    return files


@pytest.mark.parametrize("case, expected", [
    ("pickle", "is a pickle file (.ckpt), which can run code when loaded"),
    ("text", "is not a safetensors file (only safetensors LoRAs are loaded)"),
    ("truncated", "is damaged or truncated"),
    ("sdxl", "was made for SDXL; the preset's base is a base with 32-wide cross-attention"),
    ("sd2", "was made for SD 2.x"),
    ("missing", "does not exist"),
    ("weight", "LoRA weights from -2 to 2"),
    ("twice", "is the same LoRA as loras[0]"),
])
def test_a_bad_lora_is_one_line_and_nothing_is_written(trained, tmp_path, plate, case, expected):
    out, _, _ = trained
    files = _bad_lora_files(tmp_path, out)
    loras = {"missing": [{"path": str(tmp_path / "nowhere.safetensors")}],
             "weight": [{"path": out, "weight": 2.5}],
             "twice": [{"path": out, "weight": 0.5},
                       {"path": os.path.join(os.path.dirname(out), ".", os.path.basename(out)), "weight": 1}],
             }.get(case) or [{"path": files[case], "weight": 1.0}]
    job = tmp_path / "job.json"
    job.write_text(json.dumps(job_dict(input={"pattern": plate}, output={"pattern": str(tmp_path / "out" / "r.####.exr")},
                                       loras=loras)))
    r = run_cli("render", "--job", job, "--json")
    assert r.returncode == 1 and expected in r.stderr and r.stderr.count("\n") == 1, r.stderr
    if case not in ("weight", "twice", "missing"):
        assert os.path.basename(files[case]) in r.stderr  # the line names the file
    # the output folder may have been made (and proved writable) before the model parts were checked; no file
    assert [f for _, _, names in os.walk(tmp_path / "out") for f in names] == []


@pytest.mark.parametrize("case, expected", [
    ("empty", "no images in"),
    ("unreadable", "cannot be read"),
    ("small", "is 40x30; images need at least 64 px on each side"),
    ("out", "give a .safetensors file name"),
])
def test_bad_training_input_is_one_line_and_nothing_is_written(tmp_path, case, expected):
    folder = tmp_path / "imgs"
    if case != "empty":
        _images(folder, 2)
    else:
        folder.mkdir()
    if case == "unreadable":
        (folder / "look_9.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"broken" * 10)
    if case == "small":
        write_exr(folder / "tiny.exr", np.zeros((30, 40, 3), np.float32), ["R", "G", "B"])
    out = tmp_path / "result" / ("look.pt" if case == "out" else "look.safetensors")
    out.parent.mkdir()
    r = customize(str(out), str(folder), steps=2)
    assert r.returncode == 1 and expected in r.stderr and r.stderr.count("\n") == 1, r.stderr
    assert listing(out.parent) == []


def test_customize_without_images_or_a_job_section_is_one_line(tmp_path, plate):
    job = tmp_path / "job.json"
    job.write_text(json.dumps(job_dict(input={"pattern": plate})))
    for args, expected in ((["--job", job], "has no 'customize' section: nothing to train"),
                           (["--images", str(tmp_path)], "give --images and --out (or --job FILE with a 'customize' "
                                                         "section)")):
        r = run_cli("customize", *args)
        assert r.returncode == 1 and expected in r.stderr and r.stderr.count("\n") == 1, r.stderr
    assert listing(tmp_path) == ["job.json", "plate"]
