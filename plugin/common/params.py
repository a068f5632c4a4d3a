"""The job's parameters as a host shows them: one table for the Nuke node and the Blender panel.

Each :class:`Param` names its widget kind, label and the job field it fills. Ranges, choices,
defaults and help texts come from the job schema's table (:data:`recast.core.job.JOB_FIELDS`),
so the hosts, the CLI and the farm describe a parameter the same way and cannot drift; a Param
states a range only where a host control must be narrower than the job allows. Host-only controls (frame range,
output folder, buttons) are Params with no ``field``. No host module is imported here.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from recast.core.job import CustomizeSpec, job_field
from recast.core.job.checks import LORA_WEIGHT

__all__ = ["Param", "JOB_PARAMS", "TRAIN_PARAMS", "LORA_SLOTS", "MODEL_FILE", "PRESETS", "INT_MAX", "fill_job",
           "job_param", "train_param", "customize_field"]

MODEL_FILE = "preset file"  #: the model choice that uses the 'model_file' value
#: the hosts' model menu: the built-in presets (core/models: preset_files/ and the tiny ones), then a preset file
PRESETS = ("default", "fast", "wan-vace-1.3b", "wan-vace-14b", "wan-vace-1.3b-fast", "wan-vace-14b-fast",
           "wan22-vace-fun-a14b", "tiny", "tiny-fast", "tiny-wan", "tiny-wan22", "tiny-wan-fast", MODEL_FILE)
INT_MAX = 2**31 - 1  #: Nuke's Int_Knob and Blender's IntProperty hold a C int: seeds stop here (the job allows 2**32-1)


@dataclass(frozen=True)
class Param:
    name: str  #: control name (the CLI flag's stem where ``field`` is set)
    kind: str  #: text, prompt, float, int, bool, choice, file (hosts add their own: button, status, divider)
    label: str
    field: str | None = None  #: job field it fills ('window.length' for nested ones)
    lo: float | None = None  #: None: the job field's lower bound
    hi: float | None = None  #: None: the job field's upper bound
    items: tuple = ()  #: choices; empty: the job field's
    default: object = None  #: for controls that fill no job field (and for an optional one: its 'unset' value)
    doc: str = ""  #: help text for controls that fill no job field
    advanced: bool = False  #: shown apart (Nuke: the Advanced tab; Blender: a sub-panel)
    command: str = ""  #: buttons: what they run
    unset: object = None  #: the control's value that leaves an optional job field unset (0: the preset's default)

    def __post_init__(self):
        if self.field is not None:  # what the host does not narrow comes from the job schema
            info = job_field(self.field)
            for name, value in (("lo", info.lo), ("hi", info.hi), ("items", info.choices)):
                if getattr(self, name) in (None, ()):
                    object.__setattr__(self, name, value)

    @property
    def default_value(self):
        if self.field is None or self.unset is not None:
            return self.default if self.unset is None else self.unset
        default = job_field(self.field).default
        return default if default is not None else self.default

    @property
    def tooltip(self) -> str:
        return self.doc or (job_field(self.field).doc if self.field else "")


JOB_PARAMS: tuple[Param, ...] = (
    Param("prompt", "prompt", "prompt", field="prompt"),
    Param("negative_prompt", "prompt", "negative prompt", field="negative_prompt"),
    Param("reference_weight", "float", "reference weight", field="reference_weight"),
    Param("structure_level", "int", "structure level", field="structure_level"),
    Param("structure_weight", "float", "structure weight", field="structure_weight"),
    Param("strength", "float", "strength", field="strength", lo=0.01),  # the job allows any value above 0
    Param("guidance_scale", "float", "guidance", field="guidance_scale", lo=0.0, unset=0.0),  # 0: the preset's
    Param("temporal_guidance", "float", "temporal guidance", field="temporal_guidance"),
    Param("steps", "int", "steps", field="steps", lo=0, unset=0),  # 0: the preset's
    Param("seed", "int", "seed", field="seed", hi=INT_MAX),
    Param("model", "choice", "model", field="model", items=PRESETS),
    Param("model_file", "file", "preset file", default="", doc=f"a preset .toml file, used when model is '{MODEL_FILE}'"),
    Param("device", "choice", "device", field="device", items=("auto", "cuda", "cpu", "mps")),  # 'cuda:N' by file
    Param("resolution", "int", "resolution", field="resolution", advanced=True),
    Param("model_view", "choice", "model view", field="model_view", advanced=True),  # an OCIO display/view by file
    Param("precision", "choice", "precision", field="precision", advanced=True),
    Param("memory", "choice", "memory", field="memory", advanced=True),
    Param("window_length", "int", "window length", field="window.length", advanced=True),
    Param("window_overlap", "int", "window overlap", field="window.overlap", advanced=True),
    Param("handles", "int", "handles", field="handles", advanced=True),
    Param("mask_invert", "bool", "invert mask", field="input.mask_invert", advanced=True),
    Param("compile", "bool", "compile", field="compile", advanced=True),
    # speed and scale (Wan presets): the kernel, a cache hook as 'METHOD[:THRESHOLD]' and devices as 'cuda:0,cuda:1'
    # — the command line's spellings; empty leaves them off
    Param("attention", "choice", "attention", field="attention", advanced=True),
    Param("cache", "text", "cache", field="cache", advanced=True, unset=""),
    Param("devices", "text", "devices", field="devices", advanced=True, unset=""),
    *(p for i in range(1, 4) for p in (
        Param(f"lora_{i}", "file", f"LoRA {i}", default="",
              doc="a LoRA file (.safetensors, diffusers or kohya names, e.g. from Train LoRA) fused into the model; "
                  "empty: none"),
        Param(f"lora_{i}_weight", "float", f"LoRA {i} weight", lo=LORA_WEIGHT[0], hi=LORA_WEIGHT[1], default=1.0,
              doc=f"how strongly LoRA {i} applies ({LORA_WEIGHT[0]:g}..{LORA_WEIGHT[1]:g}; 0 turns it off)"))),
)

#: the LoRA slots: (file param, weight param) names; together they make the job's 'loras'
LORA_SLOTS = tuple((f"lora_{i}", f"lora_{i}_weight") for i in range(1, 4))


def job_param(name: str) -> Param:
    """The :data:`JOB_PARAMS` entry called ``name``."""
    return next(p for p in JOB_PARAMS if p.name == name)


def customize_field(name: str) -> tuple:
    """``(default, lo, hi)`` of the job's ``customize.<name>`` field (the training section of the job schema), so a
    host's Train LoRA controls default and stop where ``recast customize`` does."""
    f = next(f for f in dataclasses.fields(CustomizeSpec) if f.name == name)
    check = f.metadata["check"]
    return f.default, getattr(check, "lo", None), getattr(check, "hi", None)


_TOKEN, _STEPS = customize_field("token"), customize_field("steps")
#: Train LoRA's controls (both hosts): defaults and ranges from the job's training section
TRAIN_PARAMS: tuple[Param, ...] = (
    Param("train_token", "text", "LoRA token", default=_TOKEN[0],
          doc="the word a trained LoRA learns for what the frames show; use it in the prompt (e.g. 'sks person')"),
    Param("train_steps", "int", "training steps", default=_STEPS[0], lo=_STEPS[1], hi=_STEPS[2],
          doc=f"steps of Train LoRA ({_STEPS[0]} suits a handful of frames on a GPU; a few minutes)"),
)


def train_param(name: str) -> Param:
    """The :data:`TRAIN_PARAMS` entry called ``name``."""
    return next(p for p in TRAIN_PARAMS if p.name == name)


def fill_job(data: dict, values: dict) -> dict:
    """Put the :data:`JOB_PARAMS` ``values`` (name → value) into the job document ``data``."""
    for p in JOB_PARAMS:
        if p.field is None or p.name == "model":
            continue
        section, _, name = p.field.rpartition(".")
        value = values[p.name]
        if p.kind == "text" and job_field(p.field).kind is list and isinstance(value, str) and value.strip():
            value = [v.strip() for v in value.split(",") if v.strip()]  # as the command line reads a list field
        elif isinstance(value, str) and p.unset == "":
            value = value.strip()
        (data.setdefault(section, {}) if section else data)[name] = None if p.unset is not None and \
            value == p.unset else value
    data["model"] = values["model_file"].strip() if values["model"] == MODEL_FILE else values["model"]
    data["loras"] = [{"path": values[f].strip(), "weight": float(values[w])} for f, w in LORA_SLOTS
                     if values[f].strip()] or None
    return data
