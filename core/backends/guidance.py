"""Gen-1's guided prediction (Esser et al. 2023, arXiv 2302.03011), the same for every backend.

With μ the video model, μπ the same model run on every frame alone as an image, ∅ the empty
content, ω the content guidance and ω_t the temporal guidance:

    μ̃ = μπ(z, ∅, s) + ω_t·(μ(z, ∅, s) − μπ(z, ∅, s)) + ω·(μ(z, c, s) − μ(z, ∅, s))

ω_t = 1 is plain classifier-free guidance of the video model (no image pass).
"""

from __future__ import annotations

__all__ = ["needs_image_pass", "gen1_guidance"]


def needs_image_pass(temporal_guidance: float) -> bool:
    """ω_t = 1 is plain classifier-free guidance of the video model: no third (image-model) pass."""
    return temporal_guidance != 1.0


def gen1_guidance(video_cond, video_uncond, image_uncond, guidance: float, temporal_guidance: float):
    """μ̃ = μπ(∅) + ω_t·(μ(∅) − μπ(∅)) + ω·(μ(c) − μ(∅))   (Esser et al. 2023; see the module's description).

    ``image_uncond`` may be None when ω_t = 1 (the formula then reduces to μ(∅) + ω·(μ(c) − μ(∅)))."""
    if not needs_image_pass(temporal_guidance):
        return video_uncond + guidance * (video_cond - video_uncond)
    if image_uncond is None:
        raise ValueError(f"temporal guidance {temporal_guidance} needs the image model's unconditional prediction")
    return (image_uncond + temporal_guidance * (video_uncond - image_uncond)
            + guidance * (video_cond - video_uncond))
