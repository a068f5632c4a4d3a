"""Content: prompt and reference image → CLIP embeddings, once per shot, cached."""

import numpy as np
import pytest
import torch

from recast.core.backends.clip_content import encode_content, load_reference_image
from recast.core.shot.synthetic import synthetic_frame
from recast.core.io.exrio import write_image
from recast.core.job import Job
from recast.core.models.loader import Loader
from tests.conftest import job_dict, write_exr


@pytest.fixture(scope="module")
def loader(tiny_preset):
    return Loader(tiny_preset, "cpu")


@pytest.fixture
def reference(tmp_path):
    rgb = np.clip(synthetic_frame(0.2, 48, 32)["rgb"], 0, 4)
    path = tmp_path / "ref.exr"
    write_exr(path, rgb, ["R", "G", "B"], ["half"] * 3)
    return str(path), rgb


def test_prompt_only(tmp_path, loader, plate):
    c = encode_content(Job.from_dict(job_dict(), str(tmp_path)), loader, str(tmp_path / "cache"))
    assert c.prompt_embeds.shape == (1, 77, 32) and c.negative_embeds.shape == (1, 77, 32)
    assert c.image_embeds is None and not c.cached
    other = encode_content(Job.from_dict(job_dict(prompt="a watercolour forest"), str(tmp_path)), loader, None)
    assert not torch.equal(c.prompt_embeds, other.prompt_embeds)
    assert torch.equal(c.negative_embeds, other.negative_embeds)


def test_image_only_and_both(tmp_path, loader, plate, reference):
    path, _ = reference
    image_only = encode_content(Job.from_dict(job_dict(prompt="", reference_image=path, reference_weight=0.8),
                                              str(tmp_path)), loader, None)
    assert image_only.image_embeds.shape == (1, 32) and image_only.reference_weight == 0.8
    assert torch.count_nonzero(image_only.negative_image_embeds) == 0
    both = encode_content(Job.from_dict(job_dict(reference_image=path), str(tmp_path)), loader, None)
    assert torch.equal(both.image_embeds, image_only.image_embeds)
    assert not torch.equal(both.prompt_embeds, image_only.prompt_embeds)


def test_embeddings_are_cached_per_shot(tmp_path, loader, plate, reference):
    path, rgb = reference
    job = Job.from_dict(job_dict(reference_image=path), str(tmp_path))
    first = encode_content(job, loader, str(tmp_path / "cache"))
    again = encode_content(job.replace(seed=5, steps=9), loader, str(tmp_path / "cache"))
    assert not first.cached and again.cached
    assert torch.equal(first.prompt_embeds, again.prompt_embeds) and torch.equal(first.image_embeds, again.image_embeds)
    write_exr(path, rgb * 0.25, ["R", "G", "B"], ["half"] * 3)  # the reference image changed
    assert not encode_content(job, loader, str(tmp_path / "cache")).cached


def test_reference_image_is_colour_converted_like_a_plate(tmp_path):
    """The same picture as a linear EXR and as an sRGB PNG reaches the model the same."""
    from recast.core.io.colour import convert

    linear = np.clip(synthetic_frame(0.5, 48, 32)["rgb"], 0, 1)
    write_exr(tmp_path / "ref.exr", linear, ["R", "G", "B"], ["float"] * 3)
    write_image(str(tmp_path / "ref.png"), convert(linear, "Linear Rec.709 (sRGB)", "sRGB Encoded Rec.709 (sRGB)"))
    a = load_reference_image(str(tmp_path / "ref.exr"))
    b = load_reference_image(str(tmp_path / "ref.png"))
    assert a.shape == b.shape == (32, 48, 3)
    assert np.abs(a - b).max() < 2.5 / 255
