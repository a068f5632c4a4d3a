"""Model presets: which checkpoint (or local folder) serves each part of the stack.

A preset is data (TOML or JSON): a ``name``, the ``backend`` its parts make (default
``animatediff``, see :mod:`recast.core.backends`), the ``scheduler`` it samples with (``ddim``, the
default, or ``lcm``: few-step sampling with an LCM LoRA; for Wan ``distilled``: a step-distilled schedule),
``defaults`` for the job's ``steps`` and ``guidance_scale`` (used when a job leaves them unset), for Wan an
optional ``flow_shift``, and a table ``parts`` whose entries each have a ``source`` — a Hugging Face
repository id (``org/name``) or a local folder — and optionally ``subfolder``, ``weight_name`` (single-file weights such as IP-Adapter's) and ``revision``.
``allow_pickle = true`` (or ``RECAST_ALLOW_PICKLE=1``) lets a part load pickle weights
(``.bin``/``.pt``): off by default, because unpickling can run code.

Built in: ``default`` (public checkpoints, see ``preset_files/default.toml``), ``fast`` (AnimateLCM:
``preset_files/fast.toml``), the Wan ones (``wan-vace-1.3b``, ``wan-vace-14b``, their ``-fast`` tier with a
step-distillation LoRA, and Wan 2.2's ``wan22-vace-fun-a14b``: two experts), and ``tiny`` / ``tiny-fast`` /
``tiny-wan`` / ``tiny-wan22`` / ``tiny-wan-fast`` (the same wiring at a tiny size with seeded random weights,
built on first use in the cache folder; for the demo, tests and CI). A job's ``model`` names one of these, or a
preset file.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tomllib
from dataclasses import dataclass, field

from ..errors import ModelError

__all__ = ["PARTS", "OPTIONAL_PARTS", "MATTE_SIZES", "ModelPart", "Preset", "load_preset", "preset_backend",
           "read_preset_file", "with_matte_size", "builtin_presets", "builtin_names"]

#: every part a preset names, and what it is for
PARTS = {
    "base": "the base model: Stable Diffusion 1.5 (unet, vae, text encoder, tokenizer, scheduler), or a Wan 2.1 "
            "VACE pipeline (transformer, vae, UMT5 text encoder, tokenizer, scheduler)",
    "controlnet": "depth ControlNet (structure)",
    "motion_adapter": "AnimateDiff motion adapter (temporal layers)",
    "ip_adapter": "IP-Adapter weights (reference image)",
    "image_encoder": "CLIP vision encoder for the IP-Adapter",
    "depth": "monocular depth estimator",
    "clip": "CLIP for metrics",
    "matte": "SAM 2.1 video segmentation (recast matte)",
    "lcm_lora": "LCM LoRA fused into the UNet (the fast tier: few-step sampling)",
    "distill_lora": "step-distillation LoRA (LightX2V / CausVid) fused into the Wan transformer(s): the Wan fast tier",
}

#: what a preset's ``scheduler`` may say: ``ddim``/``lcm`` (AnimateDiff); a Wan preset samples with flow-matching Euler,
#: ``distilled`` at the evenly spaced sigmas a step-distilled Wan was trained on (:mod:`recast.core.backends.wan_vace`)
SCHEDULERS = ("ddim", "lcm", "distilled")
#: a preset's ``defaults``: job field → (kind, lowest, highest)
PRESET_DEFAULTS = {"steps": (int, 1, 200), "guidance_scale": (float, 1.0, 30.0)}

#: the parts each backend's presets must name (:func:`recast.core.models.parts.check_preset` checks these and the
#: optional ones a preset names)
BACKEND_PARTS = {"animatediff": ("base", "controlnet", "motion_adapter", "ip_adapter", "image_encoder", "depth", "clip"),
                 "wan-vace": ("base", "depth", "clip")}

#: parts a preset may leave out: only the command that uses one needs it (``recast matte``)
OPTIONAL_PARTS = frozenset({"matte", "lcm_lora", "distill_lora"})

#: ``matte_size`` → the public SAM 2.1 checkpoint of that size (``recast matte --matte-size``)
MATTE_SIZES = {"tiny": "facebook/sam2.1-hiera-tiny", "small": "facebook/sam2.1-hiera-small",
               "base-plus": "facebook/sam2.1-hiera-base-plus", "large": "facebook/sam2.1-hiera-large"}

_BUILTIN = os.path.join(os.path.dirname(__file__), "preset_files")
_TINY = {"tiny": "preset.toml", "tiny-fast": "preset_fast.toml", "tiny-wan": "preset_wan.toml",
         "tiny-wan22": "preset_wan22.toml", "tiny-wan-fast": "preset_wan_fast.toml"}  #: built on first use
#: the backend of each tiny preset, known before it is built (a dry run builds nothing)
_TINY_BACKENDS = {"tiny": "animatediff", "tiny-fast": "animatediff", "tiny-wan": "wan-vace", "tiny-wan22": "wan-vace",
                  "tiny-wan-fast": "wan-vace"}
#: what each tiny preset is for, known before it is built (``recast models list`` builds nothing)
_TINY_PURPOSES = {"tiny": "seeded random weights at a tiny size, wired as 'default': the demo, tests, CI, trial renders",
                  "tiny-fast": "seeded random weights at a tiny size, wired as 'fast' (LCM): tests and CI",
                  "tiny-wan": "seeded random weights at a tiny size, wired as the Wan 2.1 VACE presets: tests and CI",
                  "tiny-wan22": "seeded random weights at a tiny size, wired as wan22-vace-fun-a14b (two experts, "
                                "a boundary): tests and CI",
                  "tiny-wan-fast": "seeded random weights at a tiny size, wired as the Wan fast tier (a distillation "
                                   "LoRA, 4 steps, guidance 1): tests and CI"}


def _builtin_files() -> dict[str, str]:
    """Built-in preset name → its file (a name may hold dots: 'wan-vace-1.3b')."""
    names = sorted(n[:-len(".toml")] for n in os.listdir(_BUILTIN) if n.endswith(".toml"))  # a base before its -fast
    return {name: os.path.join(_BUILTIN, name + ".toml") for name in names}


def builtin_names() -> list[str]:
    """Every built-in preset's name: the ones from files, then the tiny ones."""
    return list(_builtin_files()) + list(_TINY)


def builtin_presets() -> list[dict]:
    """Every built-in preset: name, backend and what it is for (without building the tiny ones)."""
    out = []
    for name, path in _builtin_files().items():
        preset = read_preset_file(path)
        out.append({"name": name, "backend": preset.backend, "description": preset.description, "file": path})
    out += [{"name": name, "backend": _TINY_BACKENDS[name], "description": _TINY_PURPOSES[name], "file": None}
            for name in _TINY]
    return out


@dataclass(frozen=True)
class ModelPart:
    """Where one part of the stack comes from."""

    role: str  #: key in :data:`PARTS`
    source: str  #: hub repository id, or a local folder (absolute once loaded)
    subfolder: str | None = None  #: folder inside the source
    weight_name: str | None = None  #: a single weights file inside (sub)folder
    revision: str | None = None  #: hub revision (branch, tag or commit)
    local: bool = False  #: source is a local folder

    def describe(self) -> str:
        where = self.source + (f"/{self.subfolder}" if self.subfolder else "")
        return where + (f"/{self.weight_name}" if self.weight_name else "")


@dataclass(frozen=True)
class Preset:
    """A named set of model parts."""

    name: str
    parts: dict[str, ModelPart] = field(default_factory=dict)
    description: str = ""
    allow_pickle: bool = False  #: let parts load pickle weights (with a warning)
    backend: str = "animatediff"  #: the diffusion engine these parts make (:mod:`recast.core.backends`)
    scheduler: str = "ddim"  #: 'ddim', or 'lcm' (few-step: with an ``lcm_lora`` part)
    defaults: dict = field(default_factory=dict)  #: ``steps`` / ``guidance_scale`` for jobs that leave them unset
    flow_shift: float | None = None  #: a Wan preset's flow-matching shift; None: the checkpoint's scheduler config's
    path: str | None = None  #: the preset file

    def part(self, role: str) -> ModelPart:
        if role not in self.parts:
            raise ModelError(f"model preset {self.name!r} has no '{role}' part ({PARTS.get(role, role)}); "
                             f"add [parts.{role}] with a source to {self.path or 'the preset'}")
        return self.parts[role]


def _is_local(source: str, folder: str) -> bool:
    if source.startswith(("/", "./", "../", "~")) or os.path.isabs(source):
        return True
    if os.path.isdir(os.path.join(folder, source)):
        return True
    return source.count("/") != 1  # hub ids are exactly 'org/name'


def _from_data(data: dict, path: str) -> Preset:
    folder = os.path.dirname(os.path.abspath(path))
    if not isinstance(data, dict) or not isinstance(data.get("parts"), dict):
        raise ModelError(f"model preset {path!r} has no [parts] table")
    unknown = sorted(set(data) - {"name", "description", "parts", "allow_pickle", "backend", "scheduler", "defaults",
                                "flow_shift"})
    if unknown:
        raise ModelError(f"model preset {path!r}: unknown key {unknown[0]!r}")
    parts = {}
    for role, spec in data["parts"].items():
        if role not in PARTS:
            raise ModelError(f"model preset {path!r}: unknown part {role!r}; parts are {', '.join(PARTS)}")
        if not isinstance(spec, dict) or not isinstance(spec.get("source"), str) or not spec["source"].strip():
            raise ModelError(f"model preset {path!r}: part {role!r} needs a 'source' (hub id or folder)")
        bad = sorted(set(spec) - {"source", "subfolder", "weight_name", "revision"})
        if bad:
            raise ModelError(f"model preset {path!r}: part {role!r} has unknown key {bad[0]!r}")
        source = spec["source"]
        local = _is_local(source, folder)
        if local:
            source = os.path.normpath(os.path.join(folder, os.path.expanduser(source)))
        parts[role] = ModelPart(role, source, spec.get("subfolder"), spec.get("weight_name"), spec.get("revision"),
                                local)
    scheduler = data.get("scheduler", "ddim")
    if scheduler not in SCHEDULERS:
        raise ModelError(f"model preset {path!r}: scheduler {scheduler!r} is not one of {', '.join(SCHEDULERS)}")
    shift = data.get("flow_shift")
    if shift is not None and (isinstance(shift, bool) or not isinstance(shift, (int, float)) or not 0 < shift <= 20):
        raise ModelError(f"model preset {path!r}: flow_shift = {shift!r}; expected a number above 0, at most 20")
    return Preset(name=str(data.get("name", os.path.splitext(os.path.basename(path))[0])), parts=parts,
                  description=str(data.get("description", "")), allow_pickle=bool(data.get("allow_pickle", False)),
                  backend=str(data.get("backend", "animatediff")), scheduler=scheduler,
                  defaults=_defaults(data.get("defaults", {}), path),
                  flow_shift=float(shift) if shift is not None else None, path=os.path.abspath(path))


def _defaults(data, path: str) -> dict:
    """A preset's ``[defaults]`` table, checked: job field → value."""
    if not isinstance(data, dict):
        raise ModelError(f"model preset {path!r}: [defaults] must be a table such as steps = 6")
    out = {}
    for key, value in data.items():
        if key not in PRESET_DEFAULTS:
            raise ModelError(f"model preset {path!r}: [defaults] has {key!r}; it may set {', '.join(PRESET_DEFAULTS)}")
        kind, lo, hi = PRESET_DEFAULTS[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (kind is int and not isinstance(value, int)) \
                or not lo <= value <= hi:
            raise ModelError(f"model preset {path!r}: [defaults] {key} = {value!r}; expected {kind.__name__} {lo}..{hi}")
        out[key] = kind(value)
    return out


def read_preset_file(path: str) -> Preset:
    """Read a preset file (``.toml`` or ``.json``)."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except OSError as exc:
        raise ModelError(f"model preset file {path!r} cannot be read: {exc.strerror}") from None
    try:
        data = json.loads(raw) if path.lower().endswith(".json") else tomllib.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ModelError(f"model preset file {path!r} is not valid {'JSON' if path.endswith('.json') else 'TOML'}: "
                         f"{str(exc).splitlines()[0]}") from None
    return _from_data(data, path)


def load_preset(name: str, base_folder: str = ".") -> Preset:
    """``default``, ``tiny`` (built on first use), or a preset file (relative to ``base_folder``)."""
    if name in _TINY:
        from .tiny import ensure_tiny

        return read_preset_file(os.path.join(os.path.dirname(ensure_tiny()), _TINY[name]))
    builtin = _builtin_files()
    if name in builtin:  # by its name, dots and all ('wan-vace-1.3b'), never as a path
        return read_preset_file(builtin[name])
    path = name if os.path.isabs(name) else os.path.join(base_folder, name)
    if not os.path.isfile(path):
        known = sorted(builtin_names())
        raise ModelError(f"model preset {name!r} is neither a built-in preset ({', '.join(known)}) nor a preset file")
    return read_preset_file(path)


def preset_backend(name: str, base_folder: str = ".") -> str:
    """The ``backend`` a preset names, without building a tiny preset."""
    return _TINY_BACKENDS[name] if name in _TINY_BACKENDS else load_preset(name, base_folder).backend


def with_matte_size(preset: Preset, size: str | None) -> Preset:
    """``preset`` with its matte part swapped for the public SAM 2.1 checkpoint of ``size`` (tiny, small,
    base-plus, large); the preset itself for None. Only a preset whose matte part is one of those
    checkpoints can change size (a local or studio model has one size)."""
    if size is None:
        return preset
    if size not in MATTE_SIZES:
        raise ModelError(f"matte size {size!r} is not one of {', '.join(MATTE_SIZES)}")
    part = preset.part("matte")
    if part.local or part.source not in MATTE_SIZES.values():
        raise ModelError(f"matte size {size!r}: the preset's matte part ({part.describe()}) is not one of the public "
                         "SAM 2.1 checkpoints, so its size cannot be chosen; leave the size unset")
    parts = {**preset.parts, "matte": ModelPart("matte", MATTE_SIZES[size], revision=part.revision)}
    return dataclasses.replace(preset, parts=parts)
