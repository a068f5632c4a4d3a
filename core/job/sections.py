"""The sections of a job document: the plate (``input``), the result (``output``), the context windows
(``window``), the optional LoRA training (``customize``) and the optional matte from prompts (``matte``).
Each field carries its check and doc."""

from __future__ import annotations

from dataclasses import dataclass

from .checks import (_boolean, _choice, _colorspace, _exr_pattern, _frames, _integer, _matte_objects, _number,
                     _optional, _pattern, _spec, _string, _views)

__all__ = ["InputSpec", "OutputSpec", "WindowSpec", "CustomizeSpec", "MatteSpec", "SAM_SIZES"]

#: the SAM 2.1 sizes a matte may name (the job's ``matte.size``, ``--matte-size``, the hosts' menu); each is a
#: public checkpoint in ``recast.core.models.presets.MATTE_SIZES``
SAM_SIZES = ("tiny", "small", "base-plus", "large")


@dataclass(frozen=True)
class InputSpec:
    """Where the plate comes from."""

    pattern: str = _spec(_pattern, "plate frames, e.g. 'plate/sh010.####.exr'", required=True, flag="input")
    frames: str | None = _spec(_optional(_frames), "frame range 'FIRST-LAST'; null = every frame on disk", None,
                               flag="input_frames")
    colorspace: str | None = _spec(_optional(_colorspace),
                                   "plate colour space; null = the file's oiio:ColorSpace, else Linear Rec.709", None)
    depth_channel: str | None = _spec(_optional(_string(False)), "depth AOV channel to use as structure, e.g. 'Z'", None)
    mask_channel: str | None = _spec(_optional(_string(False)),
                                     "channel restricting the edit (1 = edit, 0 = keep the plate), e.g. 'A'; "
                                     "with mask_pattern, the matte's channel (default: its alpha, or its only one)", None)
    part: str | None = _spec(_optional(_string(False)), "multi-part EXR: the part to edit, by name; null = the "
                             "first part with colour of the default view", None)
    views: list | None = _spec(_optional(_views), "stereo/multi-view EXR: the views to edit, e.g. [\"left\", "
                               "\"right\"]; null = the default (hero) view only", None)
    mask_pattern: str | None = _spec(_optional(_pattern), "matte sequence restricting the edit, e.g. "
                                     "'matte/sh010_fg.####.exr'", None)
    mask_invert: bool = _spec(_boolean, "edit where the matte is 0 and keep the plate where it is 1 (keep the actor, "
                              "replace the world)", False)


@dataclass(frozen=True)
class OutputSpec:
    """Where the result goes."""

    pattern: str = _spec(_exr_pattern, "result frames, e.g. 'render/sh010_recast.####.exr'", required=True,
                         flag="output")


@dataclass(frozen=True)
class WindowSpec:
    """Temporal context windows."""

    # the widest any backend takes (Wan: 81); the preset's backend checks its own (Backend.window_limits)
    length: int = _spec(_integer(2, 81), "frames per context window (at most what the model was trained on: "
                                         "AnimateDiff 32, Wan 81 in steps of 4)", 16, flag="window_length")
    overlap: int = _spec(_integer(0, 80), "frames shared by neighbouring windows", 4, flag="window_overlap")


@dataclass(frozen=True)
class CustomizeSpec:
    """Train a LoRA before the render (``recast customize --job``; the farm bundle's Customize step); the
    render then fuses it with ``weight``, after the job's ``loras``."""

    images: str = _spec(_string(False), "training images: a folder, a glob pattern or a frame pattern", required=True)
    frames: str | None = _spec(_optional(_frames), "with a frame pattern: the frames to train on; null = all", None)
    token: str = _spec(_string(False), "the identifier the LoRA learns, used in the prompt", "sks")
    caption: str | None = _spec(_optional(_string(False)), "caption of every image; null = a .txt beside each, "
                                "else the token", None)
    steps: int = _spec(_integer(1, 100_000), "training steps", 400)
    rank: int = _spec(_integer(1, 256), "LoRA rank (alpha = rank)", 8)
    learning_rate: float = _spec(_number(0.0, 0.1, lo_open=True), "learning rate (constant)", 1e-4)
    resolution: int = _spec(_integer(64, 2048), "training size in pixels (square)", 512)
    seed: int = _spec(_integer(0, 2**32 - 1), "training seed", 0)
    train_text_encoder: bool = _spec(_boolean, "train a LoRA on the text encoder too", False)
    weight: float = _spec(_number(-2.0, 2.0), "how strongly the render applies the trained LoRA", 1.0)
    out: str | None = _spec(_optional(_string(False)), "the LoRA file; null = lora/customize.safetensors in the "
                            "output folder", None)


@dataclass(frozen=True)
class MatteSpec:
    """Make the edit's matte from clicks and boxes first (``recast matte --job``; the farm bundle's Matte step);
    the render then uses it as ``input.mask_pattern`` (its alpha: every object)."""

    objects: list = _spec(_matte_objects, "objects to matte, each with clicks and boxes on frames, e.g. "
                          "[{\"name\": \"actor\", \"points\": [\"1001:640,360\"], \"boxes\": []}]; coordinates are "
                          "display-window pixels from the top left", required=True)
    output: str | None = _spec(_optional(_exr_pattern), "the matte sequence; null = matte/matte.####.exr in the "
                               "output folder", None)
    size: str | None = _spec(_optional(_choice(*SAM_SIZES)),
                             "SAM 2.1 size when the preset's matte part is a public SAM 2.1 checkpoint; null = "
                             "the preset's", None)
