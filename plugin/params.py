"""The job's parameters as a host shows them: one table for the Nuke node and the Blender panel.

Each :class:`Param` names its widget kind, label, range and the job field it fills. Defaults
and help texts come from :class:`recast.core.job.Job` itself, so the hosts, the CLI and the
farm describe a parameter the same way and cannot drift. Host-only controls (frame range,
output folder, buttons) are Params with no ``field``. No host module is imported here.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from recast.core.job import Job, WindowSpec

__all__ = ["Param", "JOB_PARAMS", "MODEL_FILE", "INT_MAX", "fill_job"]

MODEL_FILE = "preset file"  #: the model choice that uses the 'model_file' value
INT_MAX = 2**31 - 1  #: Nuke's Int_Knob and Blender's IntProperty hold a C int: seeds stop here (the job allows 2**32-1)


@dataclass(frozen=True)
class Param:
    name: str  #: control name (the CLI flag's stem where ``field`` is set)
    kind: str  #: text, prompt, float, int, bool, choice, file (hosts add their own: button, status, divider)
    label: str
    field: str | None = None  #: job field it fills ('window.length' for nested ones)
    lo: float | None = None
    hi: float | None = None
    items: tuple = ()  #: choices
    default: object = None  #: for controls that fill no job field
    doc: str = ""  #: help text for controls that fill no job field
    advanced: bool = False  #: shown apart (Nuke: the Advanced tab; Blender: a sub-panel)
    command: str = ""  #: buttons: what they run

    @property
    def default_value(self):
        if self.field is None:
            return self.default
        f = _job_field(self.field)
        return f.default if f.default is not dataclasses.MISSING else self.default

    @property
    def tooltip(self) -> str:
        return _job_field(self.field).metadata["doc"] if self.field else self.doc


def _job_field(path: str) -> dataclasses.Field:
    section, _, name = path.rpartition(".")
    cls = WindowSpec if section == "window" else Job
    return next(f for f in dataclasses.fields(cls) if f.name == name)


JOB_PARAMS: tuple[Param, ...] = (
    Param("prompt", "prompt", "prompt", field="prompt"),
    Param("negative_prompt", "prompt", "negative prompt", field="negative_prompt"),
    Param("reference_weight", "float", "reference weight", field="reference_weight", lo=0, hi=2),
    Param("structure_level", "int", "structure level", field="structure_level", lo=0, hi=7),
    Param("structure_weight", "float", "structure weight", field="structure_weight", lo=0, hi=2),
    Param("strength", "float", "strength", field="strength", lo=0.01, hi=1),
    Param("guidance_scale", "float", "guidance", field="guidance_scale", lo=1, hi=30),
    Param("temporal_guidance", "float", "temporal guidance", field="temporal_guidance", lo=0, hi=10),
    Param("steps", "int", "steps", field="steps", lo=1, hi=200),
    Param("seed", "int", "seed", field="seed", lo=0, hi=INT_MAX),
    Param("model", "choice", "model", field="model", items=("default", "tiny", MODEL_FILE)),
    Param("model_file", "file", "preset file", default="", doc=f"a preset .toml file, used when model is '{MODEL_FILE}'"),
    Param("device", "choice", "device", field="device", items=("auto", "cuda", "cpu", "mps")),
    Param("resolution", "int", "resolution", field="resolution", lo=64, hi=4096, advanced=True),
    Param("precision", "choice", "precision", field="precision", items=("auto", "fp32", "fp16", "bf16"), advanced=True),
    Param("memory", "choice", "memory", field="memory", items=("auto", "fast", "low"), advanced=True),
    Param("window_length", "int", "window length", field="window.length", lo=2, hi=32, advanced=True),
    Param("window_overlap", "int", "window overlap", field="window.overlap", lo=0, hi=31, advanced=True),
    Param("handles", "int", "handles", field="handles", lo=0, hi=64, advanced=True),
)


def fill_job(data: dict, values: dict) -> dict:
    """Put the :data:`JOB_PARAMS` ``values`` (name → value) into the job document ``data``."""
    for p in JOB_PARAMS:
        if p.field is None or p.name == "model":
            continue
        section, _, name = p.field.rpartition(".")
        (data.setdefault(section, {}) if section else data)[name] = values[p.name]
    data["model"] = values["model_file"].strip() if values["model"] == MODEL_FILE else values["model"]
    return data
