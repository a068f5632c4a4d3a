"""Optical flow and warp error (temporal stability of an output, measured against the input's motion).

Flow is OpenCV's DIS (dense inverse search, 'medium' preset) on the input plate in display
space (8-bit luma), forward t→t+1 and backward t+1→t. A pixel is **occluded** (or the flow is
wrong there) when the round trip does not come back: |F(x) + B(x + F(x))|² > 0.01(|F|² + |B|²) + 0.5
(the forward–backward check of Sundaram et al. 2010, as used by Ruder et al. 2016 and the
video-editing papers that report warp error), or when x + F(x) leaves the frame.

**Warp error** of frame pair (t, t+1): the output frame t+1 warped back onto frame t along the
input's flow, against the output frame t: the mean squared difference of RGB in [0, 1] over
the pixels that are not occluded. 0 = the output moves exactly as the input does.
"""

from __future__ import annotations

import numpy as np

__all__ = ["flow_pair", "occlusion", "warp", "warp_error"]


def _gray(rgb: np.ndarray) -> np.ndarray:
    luma = rgb[..., 0] * 0.2126 + rgb[..., 1] * 0.7152 + rgb[..., 2] * 0.0722
    return (np.clip(luma, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def flow_pair(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Forward (a→b) and backward (b→a) flow of two display-space frames (H×W×3 in [0, 1]): H×W×2, pixels."""
    import cv2

    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    ga, gb = _gray(a), _gray(b)
    return dis.calc(ga, gb, None), dis.calc(gb, ga, None)


def warp(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """``image`` sampled at x + flow(x) (bilinear): brings frame t+1 back onto frame t."""
    import cv2

    h, w = flow.shape[:2]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    return cv2.remap(image.astype(np.float32), xs + flow[..., 0], ys + flow[..., 1], cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_REPLICATE)


def occlusion(forward: np.ndarray, backward: np.ndarray) -> np.ndarray:
    """True where the forward–backward check fails or the flow leaves the frame."""
    h, w = forward.shape[:2]
    back_at = warp(backward, forward)
    round_trip = forward + back_at
    lhs = (round_trip ** 2).sum(-1)
    rhs = 0.01 * ((forward ** 2).sum(-1) + (back_at ** 2).sum(-1)) + 0.5
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    tx, ty = xs + forward[..., 0], ys + forward[..., 1]
    outside = (tx < 0) | (tx > w - 1) | (ty < 0) | (ty > h - 1)
    return (lhs > rhs) | outside


def warp_error(out_t: np.ndarray, out_next: np.ndarray, forward: np.ndarray, backward: np.ndarray) -> float:
    """Mean squared RGB difference of out_t and out_next warped onto t, over unoccluded pixels."""
    valid = ~occlusion(forward, backward)
    if not valid.any():
        return float("nan")
    diff = (warp(out_next, forward) - out_t.astype(np.float32)) ** 2
    return float(diff[valid].mean())
