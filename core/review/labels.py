"""A render's header values as the review's labels, and the shot's frame rate from the plate's header.

Every frame Recast writes records its job (``recast/job``, :func:`recast.core.pipeline.stages.header_attributes`):
the labels are read from there — prompt, seed, preset — with Recast's version (``recast/version``) and the
steps. A sequence Recast did not write has no labels (the player shows its title alone).
"""

from __future__ import annotations

import json

__all__ = ["header_labels", "frame_rate", "DEFAULT_FPS"]

DEFAULT_FPS = 24.0  #: the frame rate when the plate's header names none


def _header(path: str):
    from ..io.exrio import read_header

    return read_header(path)


def header_labels(path: str) -> dict:
    """``{prompt, seed, model, steps, recast}`` from the header of the frame at ``path`` (those it holds)."""
    header = _header(path)
    out = {}
    try:
        job = json.loads(header.attribute("recast/job") or "null")
    except ValueError:
        job = None
    if isinstance(job, dict):
        for key in ("prompt", "seed", "model", "strength", "structure_level"):
            if job.get(key) not in (None, ""):
                out[key] = job[key]
    for attr, key in (("recast/steps", "steps"), ("recast/version", "recast")):
        value = header.attribute(attr)
        if value:
            out[key] = str(value)
    return out


def frame_rate(path: str) -> float:
    """The plate's frame rate: its header's ``FramesPerSecond`` (a rational, e.g. 24000/1001), else 24."""
    value = _header(path).attribute("FramesPerSecond")
    try:
        if isinstance(value, (tuple, list)) and len(value) == 2:
            fps = float(value[0]) / float(value[1])
        elif isinstance(value, str) and "/" in value:
            num, den = value.split("/")
            fps = float(num) / float(den)
        else:
            fps = float(value) if value is not None else DEFAULT_FPS
    except (TypeError, ValueError, ZeroDivisionError):
        return DEFAULT_FPS
    return fps if 0 < fps <= 1000 else DEFAULT_FPS
