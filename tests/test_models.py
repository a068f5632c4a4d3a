"""Presets and model loading: the real loading path, exercised with the tiny preset saved to disk."""

import json
import os
import shutil
import subprocess
import time
import warnings

import pytest
import torch

from recast.core.errors import ModelError
from recast.core.models.loader import Loader, select_device
from recast.core.models.parts import check_preset, locate, pull_preset
from recast.core.models.presets import load_preset, read_preset_file
from tests.conftest import RECAST, events, run_cli, run_cli_process


def test_tiny_preset_is_saved_in_the_real_layouts(tiny_preset):
    root = os.path.dirname(tiny_preset.path)
    for rel in ["base/model_index.json", "base/unet/config.json", "base/unet/diffusion_pytorch_model.safetensors",
                "base/vae/diffusion_pytorch_model.safetensors", "base/text_encoder/model.safetensors",
                "base/tokenizer/tokenizer_config.json", "base/scheduler/scheduler_config.json",
                "controlnet/config.json", "motion_adapter/diffusion_pytorch_model.safetensors",
                "ip_adapter/ip-adapter_tiny.safetensors", "image_encoder/model.safetensors",
                "depth/model.safetensors", "depth/preprocessor_config.json", "clip/model.safetensors"]:
        assert os.path.isfile(os.path.join(root, rel)), rel
    assert not [f for _, _, fs in os.walk(root) for f in fs if f.endswith((".bin", ".pt", ".ckpt"))]
    assert all(s.present for s in check_preset(tiny_preset))


def test_every_part_loads_through_the_real_loaders(tiny_preset):
    from diffusers import UNetMotionModel

    loader = Loader(tiny_preset, "cpu")
    model, proc = loader.depth_estimator()
    assert type(model).__name__ == "DepthAnythingForDepthEstimation"
    tok, enc = loader.text_encoder()
    ids = tok(["a claymation street at dusk"], padding="max_length", max_length=77, return_tensors="pt").input_ids
    assert ids.shape == (1, 77) and ids[0, 0] == tok.bos_token_id
    assert enc(ids)[0].shape == (1, 77, 32)
    assert type(loader.image_encoder()[1]).__name__ == "CLIPVisionModelWithProjection"
    unet = UNetMotionModel.from_unet2d(loader.unet(), loader.motion_adapter())
    assert unet.config.cross_attention_dim == loader.controlnet().config.cross_attention_dim == 32
    assert loader.vae().config.latent_channels == 4
    assert loader.scheduler().config.steps_offset == 1
    assert loader.ip_adapter_file().endswith(".safetensors")
    assert loader.unet() is loader.unet()  # each part is loaded once


def test_tiny_weights_are_seeded(tmp_path, tiny_preset):
    from safetensors.torch import load_file

    from recast.core.models.tiny import build_tiny

    build_tiny(str(tmp_path / "again"))
    for rel in ["base/unet/diffusion_pytorch_model.safetensors", "depth/model.safetensors"]:
        a = load_file(os.path.join(os.path.dirname(tiny_preset.path), rel))
        b = load_file(str(tmp_path / "again" / rel))
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def _preset_file(tmp_path, parts: dict, extra: str = "") -> str:
    lines = ['name = "studio"', extra]
    for role, src in parts.items():
        lines += [f"[parts.{role}]", f'source = "{src}"']
    path = tmp_path / "studio.toml"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def test_preset_with_a_missing_part(tmp_path, tiny_preset):
    root = os.path.dirname(tiny_preset.path)
    preset = read_preset_file(_preset_file(tmp_path, {"base": os.path.join(root, "base"),
                                                      "depth": str(tmp_path / "no_such_folder")}))
    with pytest.raises(ModelError, match=r"no 'controlnet' part .*add \[parts.controlnet\]"):
        Loader(preset, "cpu").controlnet()
    with pytest.raises(ModelError, match="folder .* does not exist"):
        Loader(preset, "cpu").depth_estimator()
    r = run_cli("models", "check", "--model", preset.path)
    assert r.returncode == 1 and "MISSING" in r.stdout and "Traceback" not in r.stderr
    assert "base            ok" in r.stdout


def test_hub_part_not_in_the_cache_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    preset = read_preset_file(_preset_file(tmp_path, {"depth": "depth-anything/Depth-Anything-V2-Small-hf"}))
    with pytest.raises(ModelError) as exc:
        locate(preset, "depth")
    msg = str(exc.value)
    assert "not in the Hugging Face cache" in msg and "recast models pull" in msg and "\n" not in msg


def test_pull_without_a_network_is_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    preset = read_preset_file(_preset_file(tmp_path, {"clip": "openai/clip-vit-base-patch32"}))
    with pytest.raises(ModelError, match="could not be downloaded"):
        pull_preset(preset, report=lambda _: None)


def test_folder_with_only_pickle_weights(tmp_path, tiny_preset):
    from safetensors.torch import load_file

    src = os.path.join(os.path.dirname(tiny_preset.path), "depth")
    pickled = tmp_path / "depth_bin"
    shutil.copytree(src, pickled)
    torch.save(load_file(str(pickled / "model.safetensors")), str(pickled / "pytorch_model.bin"))
    os.remove(pickled / "model.safetensors")
    preset = read_preset_file(_preset_file(tmp_path, {"depth": str(pickled)}))
    with pytest.raises(ModelError, match="only pickle weights .* can run code"):
        Loader(preset, "cpu").depth_estimator()
    allowed = read_preset_file(_preset_file(tmp_path, {"depth": str(pickled)}, "allow_pickle = true"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model, _ = Loader(allowed, "cpu").depth_estimator()
    assert any("pickle" in str(w.message) for w in caught)
    assert type(model).__name__ == "DepthAnythingForDepthEstimation"


@pytest.mark.parametrize("text, words", [
    ('name = "x"\n', "has no [parts] table"),
    ('[parts.unet]\nsource = "a/b"\n', "unknown part 'unet'"),
    ('[parts.depth]\nsrc = "a/b"\n', "needs a 'source'"),
    ("[parts\n", "is not valid TOML"),
    ('flow_shift = 0\n[parts.depth]\nsource = "a/b"\n', "flow_shift = 0; expected a number above 0, at most 20"),
    ('flow_shift = "5"\n[parts.depth]\nsource = "a/b"\n', "flow_shift = '5'; expected a number"),
    ('scheduler = "unipc"\n[parts.depth]\nsource = "a/b"\n', "scheduler 'unipc' is not one of ddim, lcm, distilled"),
])
def test_bad_preset_files(tmp_path, text, words):
    path = tmp_path / "p.toml"
    path.write_text(text)
    with pytest.raises(ModelError, match=words.replace("[", r"\[")):
        read_preset_file(str(path))


def test_unknown_preset_name():
    with pytest.raises(ModelError, match="neither a built-in preset"):
        load_preset("huge")


def test_default_preset_names_every_part():
    preset = load_preset("default")
    assert preset.part("base").source == "stable-diffusion-v1-5/stable-diffusion-v1-5"
    assert preset.part("ip_adapter").weight_name == "ip-adapter_sd15.safetensors"
    assert not any(p.local for p in preset.parts.values())


def test_device_selection():
    assert select_device("cpu") == (torch.device("cpu"), torch.float32)
    assert select_device("auto")[0].type in ("cuda", "mps", "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(ModelError, match="no CUDA GPU is available"):
            select_device("cuda:0")


def test_models_cli_list_and_check(tiny_preset):
    r = run_cli("models", "list", "--model", "tiny")
    assert r.returncode == 0 and "motion_adapter" in r.stdout
    r = run_cli("models", "check", "--model", "tiny", "--json")
    assert r.returncode == 0, r.stderr
    import json

    assert all(p["present"] for p in json.loads(r.stdout)["parts"])


def test_tiny_preset_runs_the_stock_diffusers_pipeline(tiny_preset):
    """The tiny parts fit together as the real ones do: the stock AnimateDiff video-to-video ControlNet
    pipeline (the renderer's benchmark baseline) runs on them, with the IP-Adapter loaded by its public loader."""
    import numpy as np
    from diffusers import AnimateDiffVideoToVideoControlNetPipeline, UNetMotionModel
    from PIL import Image

    loader = Loader(tiny_preset, "cpu")
    tok, text_encoder = loader.text_encoder()
    proc, image_encoder = loader.image_encoder()
    pipe = AnimateDiffVideoToVideoControlNetPipeline(
        vae=loader.vae(), text_encoder=text_encoder, tokenizer=tok,
        unet=UNetMotionModel.from_unet2d(loader.unet(), loader.motion_adapter()), motion_adapter=loader.motion_adapter(),
        controlnet=loader.controlnet(), scheduler=loader.scheduler(), feature_extractor=proc, image_encoder=image_encoder)
    weights = loader.ip_adapter_file()
    pipe.load_ip_adapter(os.path.dirname(weights), subfolder="", weight_name=os.path.basename(weights),
                         image_encoder_folder=None)
    pipe.set_ip_adapter_scale(0.6)
    pipe.set_progress_bar_config(disable=True)
    rng = np.random.default_rng(0)
    video = [Image.fromarray((rng.random((64, 64, 3)) * 255).astype("uint8")) for _ in range(4)]
    out = pipe(video=video, prompt="a cat", conditioning_frames=video, num_inference_steps=2, strength=1.0,
               height=64, width=64, ip_adapter_image_embeds=[torch.zeros(2, 1, 32)], output_type="np",
               generator=torch.Generator().manual_seed(0))
    frames = np.asarray(out.frames)
    assert frames.shape == (1, 4, 64, 64, 3) and np.isfinite(frames).all()


# --- fetching: recast models pull against a hub (tests/fake_hub.py), as a host runs it --------
# (a new process each: huggingface_hub reads HF_ENDPOINT and HF_HUB_OFFLINE when it is imported)

def test_pull_fetches_what_is_missing_with_progress_events_and_then_renders(fake_hub, tmp_path, plate):
    hub, preset = fake_hub
    r = run_cli_process("models", "check", "--model", preset, "--json")
    assert r.returncode == 1 and "7 part(s) missing" in r.stderr
    assert not any(p["present"] for p in json.loads(r.stdout)["parts"])
    r = run_cli_process("models", "pull", "--model", preset, "--json")
    assert r.returncode == 0, r.stderr
    evs = events(r.stdout)  # nothing but protocol on stdout
    assert evs[0]["event"] == "start" and evs[-1]["event"] == "done"
    steps = [(e["done"], e["total"], e.get("part")) for e in evs if e["event"] == "progress"]
    assert all(e["stage"] == "fetch" for e in evs if e["event"] == "progress")
    assert steps[0] == (0, 7, "base") and steps[-1] == (7, 7, None) and len(steps) == 8
    assert sorted(evs[-1]["fetched"]) == sorted(["base", "controlnet", "motion_adapter", "ip_adapter",
                                                 "image_encoder", "depth", "clip"])
    assert not any(".bin" in p or p.endswith(".pt") for p in hub.requests)  # never the pickle twins
    r = run_cli_process("models", "check", "--model", preset, "--json")
    assert r.returncode == 0 and all(p["present"] for p in json.loads(r.stdout)["parts"])
    # a second pull fetches nothing: every part is present
    hub.requests.clear()
    r = run_cli_process("models", "pull", "--model", preset, "--json")
    assert r.returncode == 0 and events(r.stdout)[-1]["fetched"] == [] and not hub.requests
    # and what was fetched is what renders
    r = run_cli_process("render", "--input", plate, "--output", tmp_path / "out" / "r.####.exr", "--model", preset,
                "--prompt", "clay", "--steps", "1", "--resolution", "64", "--device", "cpu", "--json")
    assert r.returncode == 0, r.stderr


def test_a_cancelled_pull_is_one_event_and_the_next_pull_finishes(fake_hub):
    hub, preset = fake_hub
    hub.delay = lambda: time.sleep(0.5)  # a slow network: the cancel lands in the middle of a part
    proc = subprocess.Popen(RECAST + ["models", "pull", "--model", preset, "--json", "--control", "stdin"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first = proc.stdout.readline()
    assert json.loads(first)["event"] == "start"
    proc.stdin.write("cancel\n")
    proc.stdin.flush()
    out, err = proc.communicate(timeout=60)
    last = events(first + out)[-1]
    assert proc.returncode == 143 and last["event"] == "error" and last["cancelled"]
    assert "next pull resumes" in last["message"] and err.count("\n") == 1
    hub.delay = None
    r = run_cli_process("models", "pull", "--model", preset)  # a person at a terminal: lines on stderr, nothing on stdout
    assert r.returncode == 0 and r.stdout == "" and "all 7 parts present" in r.stderr


def test_a_pull_from_a_hub_that_lacks_a_part_is_one_line(fake_hub):
    hub, preset = fake_hub
    del hub.repos["recast-test/depth"]
    r = run_cli_process("models", "pull", "--model", preset, "--json")
    assert r.returncode == 1 and r.stderr.count("\n") == 1
    assert "model part 'depth' (recast-test/depth) could not be downloaded" in r.stderr
    assert events(r.stdout)[-1]["event"] == "error"


def test_the_hosts_line_says_what_a_fetch_cannot_fix(tmp_path, tiny_preset):
    """The host's models line (Nuke node, Blender panel): a local folder that is missing needs the preset fixed,
    a hub part can be fetched; both said in one line, from the worker's own check."""
    from recast.plugin.common.models import check_models

    root = os.path.dirname(tiny_preset.path)
    parts = {r: os.path.join(root, r) for r in ("base", "controlnet", "motion_adapter", "image_encoder", "clip")}
    parts.update(depth=str(tmp_path / "no_such_folder"), ip_adapter="h94/IP-Adapter")
    answer = check_models("preset file", _preset_file(tmp_path, parts), command=" ".join(RECAST))
    assert answer.missing == ["ip_adapter", "depth"] and answer.fetchable == ["ip_adapter"]
    line = answer.summary
    assert line.startswith("models 'studio': 2 of 7 parts missing (ip_adapter, depth); Fetch models downloads "
                           "ip_adapter; fix the preset for depth: model part 'depth': folder ") and "\n" not in line
