"""The renderer's building blocks: per-frame noise, context windows and fusion, Gen-1 guidance."""

import pytest
import torch

from recast.core.models.loader import Loader
from recast.core.backends.animatediff_net import motion_modules_off
from recast.core.backends.guidance import gen1_guidance, needs_image_pass
from recast.core.pipeline.sampling import context_windows, frame_noise, window_weights


def test_noise_depends_on_seed_and_absolute_frame_only():
    shot = frame_noise(range(1001, 1101), 1234, (4, 8, 8))
    chunk = frame_noise(range(1041, 1061), 1234, (4, 8, 8))
    assert torch.equal(shot[40:60], chunk)  # shared frames start from the same noise
    assert not torch.equal(shot[0], shot[1])
    assert not torch.equal(frame_noise([1001], 1235, (4, 8, 8))[0], shot[0])
    neg = frame_noise([-3, -2], 7, (2, 2))
    assert torch.equal(neg[1], frame_noise([-2], 7, (2, 2))[0])
    assert abs(float(shot.std()) - 1.0) < 0.02 and abs(float(shot.mean())) < 0.02


def _covered(windows):
    return sorted({f for s, e in windows for f in range(s, e + 1)})


@pytest.mark.parametrize("first, last, length, overlap", [
    (1001, 1048, 16, 4), (1, 16, 16, 4), (1, 5, 16, 4), (1, 17, 16, 4), (-10, 30, 8, 2), (1, 100, 16, 0)])
def test_windows_cover_the_range_at_full_length(first, last, length, overlap):
    w = context_windows(first, last, length, overlap)
    assert _covered(w) == list(range(first, last + 1))
    span = last - first + 1
    assert all(e - s + 1 == min(length, span) for s, e in w)
    assert all(first <= s and e <= last for s, e in w)
    assert all(b[0] > a[0] for a, b in zip(w, w[1:]))


def test_windows_on_a_grid_anchored_at_the_shot_start():
    shot = context_windows(1001, 1100, 16, 4)
    assert shot[:3] == [(1001, 1016), (1013, 1028), (1025, 1040)]
    chunk = context_windows(1030, 1060, 16, 4, anchor=1001)
    # interior windows of the chunk are the shot's own windows
    inner = [w for w in chunk if w[0] > 1030 and w[1] < 1060]
    assert inner and all(w in shot for w in inner)


def test_fusion_weights_fall_off_toward_window_ends():
    w = window_weights(16)
    assert w.shape == (16,) and float(w.max()) == 1.0 and float(w.min()) > 0
    assert torch.equal(w, w.flip(0))
    assert all(w[i] <= w[i + 1] for i in range(7))
    assert float(w[0]) < 0.2


def test_temporal_guidance_one_is_plain_cfg():
    torch.manual_seed(0)
    c, u, i = torch.randn(3, 2, 4, 8, 8)
    assert not needs_image_pass(1.0) and needs_image_pass(1.5) and needs_image_pass(0.5)
    assert torch.allclose(gen1_guidance(c, u, None, 7.5, 1.0), u + 7.5 * (c - u))
    assert torch.allclose(gen1_guidance(c, u, i, 7.5, 1.0), u + 7.5 * (c - u))  # image pass ignored at ω_t = 1


@pytest.mark.parametrize("wt", [0.0, 0.5, 1.5, 3.0])
def test_temporal_guidance_formula(wt):
    torch.manual_seed(1)
    c, u, i = torch.randn(3, 2, 4, 8, 8)
    expect = i + wt * (u - i) + 7.5 * (c - u)
    assert torch.allclose(gen1_guidance(c, u, i, 7.5, wt), expect)
    with pytest.raises(ValueError, match="needs the image model"):
        gen1_guidance(c, u, None, 7.5, wt if wt != 1.0 else 2.0)


def test_motion_modules_off_makes_frames_independent(tiny_preset):
    from diffusers import UNetMotionModel

    loader = Loader(tiny_preset, "cpu")
    unet = UNetMotionModel.from_unet2d(loader.unet(), loader.motion_adapter()).eval()
    torch.manual_seed(0)
    frames = torch.randn(1, 4, 4, 8, 8)  # (batch, channels, frames, h, w)
    text = torch.randn(1, 77, 32).repeat_interleave(4, dim=0)  # the motion UNet takes text per frame

    def run(x):
        with torch.no_grad():
            return unet(x, 10, encoder_hidden_states=text).sample

    changed = frames.clone()
    changed[:, :, 0] += 1.0  # change frame 0 only
    with motion_modules_off(unet):
        a, b = run(frames), run(changed)
    assert torch.equal(a[:, :, 1:], b[:, :, 1:])  # image model: other frames untouched
    a, b = run(frames), run(changed)
    assert not torch.allclose(a[:, :, 1:], b[:, :, 1:])  # video model: frames see each other again
