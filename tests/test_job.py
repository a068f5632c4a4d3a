import json
import os

import pytest

from recast.core.errors import JobError
from recast.core.job import SCHEMA, Job, load_job
from tests.conftest import job_dict

# (field path, bad value, words the message must hold)
BAD = [
    ("schema", "recast.job/2", "'recast.job/1'"),
    ("input", "plate.####.exr", "expected an object"),
    ("input.pattern", "plate.exr", "no frame number"),
    ("input.pattern", 5, "frame pattern"),
    ("input.frames", "1100-1001", "FIRST-LAST"),
    ("input.frames", "a-b", "FIRST-LAST"),
    ("input.colorspace", "not a space", "is not in the OCIO config"),
    ("input.colorspace", "", "colour space name"),
    ("input.depth_channel", "", "non-empty text"),
    ("input.mask_channel", 3, "non-empty text"),
    ("input.mask_pattern", "matte.exr", "no frame number"),
    ("structure_weight", 2.5, "a number 0.0..2.0"),
    ("precision", "fp8", "'auto' or 'fp32' or 'fp16' or 'bf16'"),
    ("memory", "huge", "'auto' or 'fast' or 'low'"),
    ("output.pattern", "render/out.####.png", "ending in '.exr'"),
    ("output.pattern", "render/out.exr", "no frame number"),
    ("prompt", 42, "text"),
    ("negative_prompt", ["a"], "text"),
    ("reference_image", "", "non-empty text"),
    ("reference_weight", -0.1, "a number 0.0..2.0"),
    ("reference_weight", "0.5", "a number"),
    ("structure_level", 8, "an integer 0..7"),
    ("structure_level", 2.5, "an integer 0..7"),
    ("structure_level", True, "an integer 0..7"),
    ("strength", -0.1, "a number 0.0..1.0"),
    ("input.views", [], "a list of view names"),
    ("input.views", ["left", "left"], "each once"),
    ("input.views", "left", "a list of view names"),
    ("input.part", "", "non-empty text"),
    ("model_view", "film", "'filmic', 'clip' or an OCIO 'display/view' pair"),
    ("model_view", "sRGB - Display/Nope", "view 'Nope' is not a view of display"),
    ("model_view", "Nope/Nope", "display 'Nope' is not in the OCIO config"),
    ("prompt", "x" * 10_001, "at most 10000 characters"),
    ("strength", 1.5, "a number"),
    ("guidance_scale", 0.5, "a number 1.0..30.0"),
    ("guidance_scale", float("nan"), "a number"),
    ("temporal_guidance", -1, "a number 0.0..10.0"),
    ("steps", 0, "an integer 1..200"),
    ("steps", 20.0, "an integer"),
    ("seed", -1, "an integer 0..4294967295"),
    ("seed", 2**32, "an integer"),
    ("model", "", "non-empty text"),
    ("device", "gpu", "'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'"),
    ("device", "cuda:x", "'auto'"),
    ("resolution", 500, "multiple of 8"),
    ("resolution", 32, "64..4096"),
    ("window", [16, 4], "expected an object"),
    ("window.length", 1, "an integer 2..81"),
    ("window.overlap", -1, "an integer 0..80"),
    ("handles", -2, "an integer 0..64"),
]


def _set(data, path, value):
    *parents, last = path.split(".")
    for p in parents:
        data = data[p]
    data[last] = value


@pytest.mark.parametrize("path, value, words", BAD, ids=[f"{p}={v!r}" for p, v, _ in BAD])
def test_every_field_rejects_bad_values(path, value, words, tmp_path):
    data = job_dict()
    _set(data, path, value)
    with pytest.raises(JobError) as exc:
        Job.from_dict(data, str(tmp_path))
    msg = str(exc.value)
    assert f"'{path}'" in msg and words in msg and "\n" not in msg


def test_good_job_and_defaults(tmp_path):
    job = Job.from_dict({"input": {"pattern": "p.####.exr"}, "output": {"pattern": "o/r.####.exr"}, "prompt": "x"},
                        str(tmp_path))
    assert job.schema == SCHEMA and job.structure_level == 2 and job.window.length == 16
    assert job.window.overlap == 4 and job.input.frames is None and job.temporal_guidance == 1.0
    assert job.input_sequence.path(1) == os.path.join(str(tmp_path), "p.0001.exr")


def test_design_example_is_valid(tmp_path):
    """The job document of the design reference (schema recast.job/1), verbatim, loads."""
    doc = {
        "schema": "recast.job/1",
        "input": {"pattern": "plate/sh010.####.exr", "frames": "1001-1048",
                  "colorspace": "ACEScg", "depth_channel": None, "mask_channel": None},
        "output": {"pattern": "render/sh010_recast.####.exr"},
        "prompt": "a claymation street at dusk", "negative_prompt": "",
        "reference_image": None, "reference_weight": 0.6,
        "structure_level": 2, "strength": 1.0, "guidance_scale": 7.5,
        "temporal_guidance": 1.0, "steps": 20, "seed": 1234,
        "model": "default", "device": "auto", "resolution": 512,
        "window": {"length": 16, "overlap": 4}, "handles": 4,
    }
    job = Job.from_dict(doc, str(tmp_path))
    data = job.to_dict()  # every field of the example as written; fields added since then at their defaults
    assert {k: data[k] for k in doc if k != "input"} == {k: v for k, v in doc.items() if k != "input"}
    assert {k: data["input"][k] for k in doc["input"]} == doc["input"] and data["input"]["mask_pattern"] is None
    assert (data["structure_weight"], data["precision"], data["memory"]) == (1.0, "auto", "auto")


@pytest.mark.parametrize("data, words", [
    ({**job_dict(), "promt": "x"}, "unknown field 'promt'; did you mean"),
    ({**job_dict(), "colour": 1}, "unknown field 'colour'; allowed:"),
    (job_dict(input={"pattern": "p.####.exr", "Frames": "1-2"}), "unknown field 'input.Frames'; did you mean 'input.frames'"),
    ({k: v for k, v in job_dict().items() if k != "output"}, "'output' is missing"),
    (job_dict(input={"pattern": None}), "'input.pattern'"),
    (job_dict(prompt="  ", reference_image=None), "neither a 'prompt' nor a 'reference_image'"),
    (job_dict(reference_image="nope.png"), "'reference_image'"),
    (job_dict(window={"length": 4, "overlap": 4}), "'window.overlap': 4 is not allowed; expected less than window.length"),
    (job_dict(output={"pattern": "plate/sh010.####.exr"}), "name the same files"),
    ([1, 2], "must be a JSON object"),
])
def test_job_level_errors(data, words, tmp_path):
    with pytest.raises(JobError) as exc:
        Job.from_dict(data, str(tmp_path))
    assert words in str(exc.value) and "\n" not in str(exc.value)


@pytest.mark.parametrize("content, words", [
    (None, "does not exist"),
    (b"{not json", "is not valid JSON"),
    (b"\xff\xfe\x00", "is not UTF-8"),
    ("dir", "is a folder"),
])
def test_load_job_file_errors(tmp_path, content, words):
    path = tmp_path / "job.json"
    if content == "dir":
        path.mkdir()
    elif content is not None:
        path.write_bytes(content)
    with pytest.raises(JobError, match=words):
        load_job(str(path))


def test_relative_paths_are_relative_to_the_job_file(tmp_path):
    (tmp_path / "shot").mkdir()
    (tmp_path / "shot" / "ref.png").write_bytes(b"x")
    path = tmp_path / "shot" / "job.json"
    path.write_text(json.dumps(job_dict(reference_image="ref.png")))
    job = load_job(str(path))
    assert job.input_sequence.path(1001) == str(tmp_path / "shot" / "plate" / "sh010.1001.exr")
    assert job.path(job.reference_image) == str(tmp_path / "shot" / "ref.png")
    absolute = job.absolute()
    assert os.path.isabs(absolute.input.pattern) and os.path.isabs(absolute.reference_image)


def test_save_load_round_trip_and_fingerprint(tmp_path):
    job = Job.from_dict(job_dict(prompt='quotes " $HOME `ls` \n 雪'), str(tmp_path))
    job.save(str(tmp_path / "j.json"))
    again = load_job(str(tmp_path / "j.json"))
    assert again == job and again.prompt == 'quotes " $HOME `ls` \n 雪'
    assert again.fingerprint() == job.fingerprint()
    assert job.replace(seed=5).fingerprint() != job.fingerprint()
    assert job.replace(input={"frames": "1001-1003"}).fingerprint() == job.fingerprint()
    with pytest.raises(JobError, match="'steps'"):
        job.replace(steps=0)
