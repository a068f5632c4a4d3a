"""The job file: one schema-versioned JSON document holding every parameter of a render.

The same file drives the CLI, the hosts (Nuke, Blender) and the farm. Field names are
fixed (schema recast.job/1); new fields may be added. Loading validates every field before any
model is loaded or any frame is touched; a bad value raises :class:`JobError` naming the
field, the value and what is allowed. Unknown fields are errors, so a typo is never
silently ignored. Relative paths are relative to the job file's folder.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
import math
import os
from dataclasses import dataclass, field
from typing import Any

from ..errors import JobError
from ..io.atomic import atomic_path
from ..io.frames import FrameRange, SequencePattern
from .checks import (SCHEMA, _boolean, _choice, _device, _integer, _loras, _number, _optional, _model_view,
                     _prompt, _resolution, _schema, _spec, _string)
from .speed import ATTENTION_KERNELS, _cache, _devices
from .before_render import BeforeRender, _same
from .sections import CustomizeSpec, InputSpec, MatteSpec, OutputSpec, WindowSpec

__all__ = ["SCHEMA", "Job", "load_job", "DEFAULT_STEPS", "DEFAULT_GUIDANCE"]

DEFAULT_STEPS, DEFAULT_GUIDANCE = 20, 7.5  #: what a job that leaves them unset gets from a preset without defaults


@dataclass(frozen=True)
class Job(BeforeRender):
    """Every parameter of one render. Build with :func:`load_job` or :meth:`Job.from_dict`."""

    input: InputSpec = _spec(None, "the plate", required=True)
    output: OutputSpec = _spec(None, "the result", required=True)
    schema: str = _spec(_schema, f"always '{SCHEMA}'", SCHEMA)
    prompt: str = _spec(_prompt, "what the content should become", "")
    negative_prompt: str = _spec(_prompt, "what to steer away from", "")
    reference_image: str | None = _spec(_optional(_string(False)), "image whose look to follow (IP-Adapter)", None)
    reference_weight: float = _spec(_number(0.0, 2.0), "strength of the reference image", 0.6)
    structure_level: int = _spec(_integer(0, 7), "Gen-1 t_s: 0 keeps structure exactly, 7 loosest", 2)
    structure_weight: float = _spec(_number(0.0, 2.0), "how strongly depth steers (ControlNet conditioning scale)", 1.0)
    strength: float = _spec(_number(0.0, 1.0), "1.0 starts from noise; lower keeps more of the plate; 0 is a null "
                            "render (no model: the plate to model space and back, to check a colour path)", 1.0)
    model_view: str = _spec(_model_view, "how scene-linear plates are shown to the model, inverted on the way back: "
                            "'filmic' (highlights rolled off, restored above 1.0), 'clip' (values above display "
                            "white clipped) or an OCIO 'display/view'", "filmic")
    guidance_scale: float | None = _spec(_optional(_number(1.0, 30.0)), "content (classifier-free) guidance ω; null "
                                         "(0 in the hosts) = the model preset's default (7.5; fast: 1.5)", None)
    temporal_guidance: float = _spec(_number(0.0, 10.0), "temporal guidance ω_t (1 = plain video CFG)", 1.0)
    steps: int | None = _spec(_optional(_integer(1, 200)), "denoising steps; null (0 in the hosts) = the model "
                              "preset's default (20; fast: 6)", None)
    seed: int = _spec(_integer(0, 2**32 - 1), "noise seed", 1234)
    loras: list | None = _spec(_optional(_loras), "LoRA files (safetensors: diffusers or kohya names) fused into the "
                               "model with their weights, e.g. [{\"path\": \"look.safetensors\", \"weight\": 0.8}]; "
                               "on the command line PATH[:WEIGHT],...; weight 0 turns one off", None)
    model: str = _spec(_string(False), "model preset: a built-in one (default, fast, wan-vace-1.3b, wan-vace-14b, "
                                         "wan-vace-1.3b-fast, wan-vace-14b-fast, wan22-vace-fun-a14b, tiny, tiny-fast, "
                                         "tiny-wan, tiny-wan22, tiny-wan-fast; 'recast models list' says what each is "
                                         "for) or a preset file", "default")
    device: str = _spec(_device, "'auto', 'cpu', 'cuda[:N]' or 'mps'", "auto")
    resolution: int = _spec(_resolution, "long side, in pixels, the model runs at", 512)
    precision: str = _spec(_choice("auto", "fp32", "fp16", "bf16"),
                           "number format on the device; 'auto' = bf16/fp16 on GPUs, fp32 on the CPU", "auto")
    memory: str = _spec(_choice("auto", "fast", "low"),
                        "'fast' keeps every model on the device; 'low' offloads, tiles the VAE and decodes one frame "
                        "at a time; 'auto' picks 'low' on GPUs under 16 GiB", "auto")
    compile: bool = _spec(_boolean, "torch.compile the UNet and ControlNet: slower to start (reported as loading), "
                          "faster per step on a GPU; off by default", False)
    # speed and scale: diffusers' cache hooks and attention kernels, several devices for one shot
    cache: dict | None = _spec(_optional(_cache), "a feature cache on the transformer (diffusers' hooks: "
                               "'first_block' with a 'threshold', 'mag', 'taylorseer'), e.g. {\"method\": "
                               "\"first_block\", \"threshold\": 0.2}; on the command line METHOD[:THRESHOLD]; "
                               "faster, not identical to an uncached render; Wan presets only", None)
    attention: str = _spec(_choice(*ATTENTION_KERNELS), "attention kernel (diffusers' dispatcher): 'auto' = "
                           "PyTorch's SDPA; 'flash' and 'sage' need their packages and a CUDA GPU", "auto")
    devices: list | None = _spec(_optional(_devices), "several devices for one shot, one worker process each, e.g. "
                                 "[\"cuda:0\", \"cuda:1\"]: each step's context windows spread over them, the "
                                 "frames those of one device", None)
    window: WindowSpec = field(default_factory=WindowSpec, metadata={"doc": "context windows"})
    customize: CustomizeSpec | None = field(default=None, metadata={"doc": "train a LoRA first (optional)",
                                                                    "optional_section": True})
    matte: MatteSpec | None = field(default=None, metadata={"doc": "make the edit's matte from clicks first "
                                                            "(optional)", "optional_section": True})
    handles: int = _spec(_integer(0, 64), "extra frames rendered around a farm chunk", 4)
    root: str = field(default=".", compare=False, metadata={"internal": True})

    # --- building -------------------------------------------------------------------

    @classmethod
    def from_dict(cls, data: Any, root: str = ".") -> "Job":
        """Validate ``data`` (a parsed job document) and build the job."""
        if not isinstance(data, dict):
            raise JobError(f"a job must be a JSON object, not {type(data).__name__}")
        values = _build(cls, data, "")
        job = cls(**values, root=os.path.abspath(root))
        job._check_together()
        return job

    def _check_together(self):
        if self.window.overlap >= self.window.length:
            raise JobError(f"job field 'window.overlap': {self.window.overlap} is not allowed; "
                           f"expected less than window.length ({self.window.length})")
        if not self.prompt.strip() and not self.reference_image:
            raise JobError("job has neither a 'prompt' nor a 'reference_image'; give at least one of them")
        if self.reference_image and not os.path.isfile(self.path(self.reference_image)):
            raise JobError(f"job field 'reference_image': {self.path(self.reference_image)!r} is not a file")
        self._check_loras()
        if _same(self.path(self.input.pattern), self.path(self.output.pattern)):
            raise JobError("job fields 'input.pattern' and 'output.pattern' name the same files; "
                           "the plate would be overwritten, choose another output")
        if self.input.mask_invert and not (self.input.mask_channel or self.input.mask_pattern or self.matte):
            raise JobError("job field 'input.mask_invert' is true but the job has no matte to invert; give "
                           "'input.mask_pattern', 'input.mask_channel' or a 'matte' section, or set it to false")
        if self.matte is not None and self.input.mask_pattern:
            raise JobError("job fields 'matte' and 'input.mask_pattern' both name the edit's matte; keep one (the "
                           "'matte' section makes it from clicks, 'input.mask_pattern' reads one already made)")
        if self.matte is not None and _same(self.matte_output, self.path(self.output.pattern)):
            raise JobError("job fields 'matte.output' and 'output.pattern' name the same files; choose another "
                           "matte output")
        if self.input.mask_pattern and _same(self.path(self.input.mask_pattern), self.path(self.output.pattern)):
            raise JobError("job fields 'input.mask_pattern' and 'output.pattern' name the same files; "
                           "the matte would be overwritten, choose another output")

    # --- using ----------------------------------------------------------------------

    def path(self, p: str) -> str:
        """``p`` resolved against the job file's folder."""
        return p if os.path.isabs(p) else os.path.normpath(os.path.join(self.root, p))

    @property
    def frame_range(self) -> FrameRange | None:
        """The shot's range as the job names it (``input.frames``); None means every frame on disk
        (:func:`recast.core.shot.plate.shot_range` resolves that)."""
        return FrameRange.parse(self.input.frames) if self.input.frames else None

    @property
    def input_sequence(self) -> SequencePattern:
        return SequencePattern.parse(self.path(self.input.pattern))

    @property
    def mask_sequence(self) -> SequencePattern | None:
        """The matte restricting the edit: ``input.mask_pattern``, or what the ``matte`` section makes."""
        if self.matte is not None:
            return SequencePattern.parse(self.matte_output)
        return SequencePattern.parse(self.path(self.input.mask_pattern)) if self.input.mask_pattern else None

    @property
    def output_sequence(self) -> SequencePattern:
        return SequencePattern.parse(self.path(self.output.pattern))

    def to_dict(self) -> dict:
        """The job document (paths as written, relative ones still relative)."""
        out = {}
        for f in dataclasses.fields(self):
            if f.metadata.get("internal"):
                continue
            v = getattr(self, f.name)
            out[f.name] = dataclasses.asdict(v) if dataclasses.is_dataclass(v) else v
        return out

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, sort_keys=False, ensure_ascii=False)

    def absolute(self) -> "Job":
        """The same job with every path absolute, for writing a job file elsewhere."""
        mask = self.path(self.input.mask_pattern) if self.input.mask_pattern else None
        inp = dataclasses.replace(self.input, pattern=self.path(self.input.pattern), mask_pattern=mask)
        out = dataclasses.replace(self.output, pattern=self.path(self.output.pattern))
        ref = self.path(self.reference_image) if self.reference_image else None
        loras = [{"path": self.path(x["path"]), "weight": x["weight"]} for x in self.loras or ()] or None
        custom = self.customize and dataclasses.replace(  # a null 'out' stays null: it follows the output folder
            self.customize, images=self.path(self.customize.images),
            out=self.path(self.customize.out) if self.customize.out else None)
        matte = self.matte and dataclasses.replace(  # a null 'output' stays null: it follows the output folder
            self.matte, output=self.path(self.matte.output) if self.matte.output else None)
        return dataclasses.replace(self, input=inp, output=out, reference_image=ref, loras=loras, customize=custom,
                                   matte=matte)

    def with_preset_defaults(self, preset) -> "Job":
        """The job with ``steps`` and ``guidance_scale`` it leaves unset taken from the model preset's defaults
        (:attr:`recast.core.models.presets.Preset.defaults`), else :data:`DEFAULT_STEPS` and
        :data:`DEFAULT_GUIDANCE`: what the render runs, and what its frames record."""
        defaults = getattr(preset, "defaults", None) or {}
        steps = self.steps if self.steps is not None else int(defaults.get("steps", DEFAULT_STEPS))
        guidance = (self.guidance_scale if self.guidance_scale is not None
                    else float(defaults.get("guidance_scale", DEFAULT_GUIDANCE)))
        return dataclasses.replace(self, steps=steps, guidance_scale=guidance)

    def resolved(self) -> "Job":
        """:meth:`with_preset_defaults` of the job's own model preset (read from its file; the job itself when it
        sets both, or renders nothing: strength 0)."""
        if (self.steps is not None and self.guidance_scale is not None) or self.strength == 0.0:
            return self
        from ..models.presets import load_preset

        return self.with_preset_defaults(load_preset(self.model, self.root))

    def replace(self, **changes) -> "Job":
        """A validated copy with fields changed (nested ones as dicts, e.g. input={'frames': ...})."""
        data = self.to_dict()
        for key, value in changes.items():
            if isinstance(value, dict) and isinstance(data.get(key), dict):
                data[key] = {**data[key], **value}
            else:
                data[key] = value
        return Job.from_dict(data, self.root)

    def fingerprint(self) -> str:
        """A hash of every parameter that shapes the pixels (with absolute paths; steps and guidance as the render
        runs them, so a job that leaves them to its preset and one that names the same values agree)."""
        data = self.resolved().absolute().to_dict()
        data["input"].pop("frames", None)  # a sub-range renders the same frames the same way
        if self.lora_files:  # a LoRA retrained into the same file is another render
            from ..models.lora import lora_digest

            self.require_trained_lora()
            data["lora_digests"] = [lora_digest(p) for p, _ in self.lora_files]
        blob = json.dumps(data, sort_keys=True, ensure_ascii=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    def save(self, path: str) -> None:
        """Write the job as JSON, atomically."""
        with atomic_path(path, JobError) as tmp, open(tmp, "w", encoding="utf-8") as fh:
            fh.write(self.to_json() + "\n")


_SECTIONS = {"InputSpec": InputSpec, "OutputSpec": OutputSpec, "WindowSpec": WindowSpec,
             "CustomizeSpec | None": CustomizeSpec, "MatteSpec | None": MatteSpec}


def _build(cls, data: dict, prefix: str) -> dict:
    """Check ``data`` against dataclass ``cls``: unknown, missing and bad fields."""
    fields = {f.name: f for f in dataclasses.fields(cls) if not f.metadata.get("internal")}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        name = prefix + unknown[0]
        close = difflib.get_close_matches(unknown[0].lower(), list(fields), n=1, cutoff=0.75)
        hint = f"; did you mean '{prefix}{close[0]}'?" if close else f"; allowed: {', '.join(prefix + n for n in fields)}"
        raise JobError(f"job has an unknown field '{name}'{hint}")
    values = {}
    for name, f in fields.items():
        full = prefix + name
        sub = _SECTIONS.get(f.type)
        if name not in data:
            if f.metadata.get("required"):
                raise JobError(f"job field '{full}' is missing; it is required ({f.metadata['doc']})")
            if sub is not None and not f.metadata.get("optional_section"):
                values[name] = sub(**_build(sub, {}, full + "."))
            continue
        value = data[name]
        if sub is not None and value is None and f.metadata.get("optional_section"):
            values[name] = None
            continue
        if sub is not None:
            if not isinstance(value, dict):
                raise JobError(f"job field '{full}': {value!r} is not allowed; expected an object")
            values[name] = sub(**_build(sub, value, full + "."))
            continue
        try:
            values[name] = f.metadata["check"](value)
        except ValueError as exc:
            raise JobError(f"job field '{full}': {_show(value)} is not allowed; expected {exc}") from None
    return values


def _show(value) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, float) or math.isfinite(value) else str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def load_job(path: str, defaults: dict | None = None) -> Job:
    """Read and validate a job file; relative paths are taken from its folder. ``defaults``: top-level fields
    a file may leave out (a cut's template has no plate or output of its own: each shot gets its clip's)."""
    if os.path.isdir(path):
        raise JobError(f"job file {path!r} is a folder; give the path of a .json job file")
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except FileNotFoundError:
        raise JobError(f"job file {path!r} does not exist") from None
    except OSError as exc:
        raise JobError(f"cannot read job file {path!r}: {exc.strerror}") from None
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise JobError(f"job file {path!r} is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        what = exc.msg[:-len(" at")] if exc.msg.endswith(" at") else exc.msg  # 'Unterminated string starting at'
        raise JobError(f"job file {path!r} is not valid JSON: {what} at line {exc.lineno}, column {exc.colno}") from None
    except RecursionError:  # [[[[...]]]]: no job nests more than a few levels
        raise JobError(f"job file {path!r} is not a job: its JSON is nested too deeply") from None
    if defaults and isinstance(data, dict):
        data = {**defaults, **data}
    return Job.from_dict(data, os.path.dirname(os.path.abspath(path)))
