"""The Recast node's knobs and the job file they make: one table, read in both directions.

Every knob is a row of :data:`KNOBS`: its Nuke type, label, tab, range and the job field it
fills. Defaults and tooltips come from :class:`recast.core.job.Job` itself, so the node, the
CLI and the farm describe a parameter the same way and cannot drift. Nothing here imports
``nuke``: :func:`add_knobs` is handed the module, and the rest works on plain values.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from recast.core.job import SCHEMA, Job, WindowSpec

__all__ = ["KnobSpec", "KNOBS", "JOB_KNOBS", "add_knobs", "knob_values", "job_data", "MODEL_FILE"]

MODEL_FILE = "preset file"  #: the model choice that uses the 'model_file' knob
NUKE_INT_MAX = 2**31 - 1  #: Nuke's Int_Knob holds a C int, so seeds stop here (the job allows 2**32 - 1)


@dataclass(frozen=True)
class KnobSpec:
    name: str  #: knob name (also the CLI flag's stem where ``field`` is set)
    kind: str  #: text, prompt, float, int, bool, choice, file, button, status, divider
    label: str
    tab: str = "Recast"
    field: str | None = None  #: job field it fills ('window.length' for nested ones)
    lo: float | None = None
    hi: float | None = None
    items: tuple = ()  #: choices
    default: object = None  #: when the job has no default for it
    tooltip: str = ""  #: for knobs that fill no job field
    command: str = ""  #: buttons: the Python they run


def _b(action):
    return f"import recast.plugin.nuke_node as _recast\n_recast.{action}(nuke.thisNode())"


KNOBS: tuple[KnobSpec, ...] = (
    KnobSpec("prompt", "prompt", "prompt", field="prompt"),
    KnobSpec("negative_prompt", "prompt", "negative prompt", field="negative_prompt"),
    KnobSpec("reference_weight", "float", "reference weight", field="reference_weight", lo=0, hi=2),
    KnobSpec("structure_level", "int", "structure level", field="structure_level", lo=0, hi=7),
    KnobSpec("structure_weight", "float", "structure weight", field="structure_weight", lo=0, hi=2),
    KnobSpec("strength", "float", "strength", field="strength", lo=0.01, hi=1),
    KnobSpec("guidance_scale", "float", "guidance", field="guidance_scale", lo=1, hi=30),
    KnobSpec("temporal_guidance", "float", "temporal guidance", field="temporal_guidance", lo=0, hi=10),
    KnobSpec("steps", "int", "steps", field="steps", lo=1, hi=200),
    KnobSpec("seed", "int", "seed", field="seed", lo=0, hi=NUKE_INT_MAX),
    KnobSpec("range_divider", "divider", ""),
    KnobSpec("use_input_range", "bool", "use input range", default=True,
             tooltip="render the plate input's whole frame range; untick to set first and last"),
    KnobSpec("first_frame", "int", "first", default=1001, tooltip="first frame to render"),
    KnobSpec("last_frame", "int", "last", default=1100, tooltip="last frame to render"),
    KnobSpec("model", "choice", "model", field="model", items=("default", "tiny", MODEL_FILE)),
    KnobSpec("model_file", "file", "preset file", default="",
             tooltip=f"a preset .toml file, used when model is '{MODEL_FILE}'"),
    KnobSpec("device", "choice", "device", field="device", items=("auto", "cuda", "cpu", "mps")),
    KnobSpec("output_folder", "file", "output folder", default="",
             tooltip="where the plate, job, logs and result go; empty: recast/<node name> beside the saved script"),
    KnobSpec("buttons_divider", "divider", ""),
    KnobSpec("render", "button", "Render", command=_b("render"),
             tooltip="write the plate and render it in the background"),
    KnobSpec("cancel", "button", "Cancel", command=_b("cancel"), tooltip="stop this node's render"),
    KnobSpec("submit", "button", "Submit to farm", command=_b("submit"),
             tooltip="write the plate, the job and a farm bundle"),
    KnobSpec("status", "status", "status"),
    # advanced
    KnobSpec("resolution", "int", "resolution", tab="Advanced", field="resolution", lo=64, hi=4096),
    KnobSpec("precision", "choice", "precision", tab="Advanced", field="precision",
             items=("auto", "fp32", "fp16", "bf16")),
    KnobSpec("memory", "choice", "memory", tab="Advanced", field="memory", items=("auto", "fast", "low")),
    KnobSpec("window_length", "int", "window length", tab="Advanced", field="window.length", lo=2, hi=32),
    KnobSpec("window_overlap", "int", "window overlap", tab="Advanced", field="window.overlap", lo=0, hi=31),
    KnobSpec("handles", "int", "handles", tab="Advanced", field="handles", lo=0, hi=64),
    KnobSpec("colorspace", "text", "plate colour space", tab="Advanced", default="",
             tooltip="OCIO name of the plate's colour space; empty: the script's working space"),
    KnobSpec("depth_channel", "text", "depth channel", tab="Advanced", default="",
             tooltip="use this channel of the plate (e.g. depth.Z) as structure instead of estimating depth"),
    KnobSpec("mask_channel", "text", "mask channel", tab="Advanced", default="A",
             tooltip="channel of the 'mask' input that limits the edit (1 = edit, 0 = keep the plate)"),
    KnobSpec("ref_frame", "int", "reference frame", tab="Advanced", default=1001,
             tooltip="frame of the 'ref' input used as the reference image"),
    KnobSpec("worker", "text", "worker command", tab="Advanced", default="",
             tooltip="command that runs Recast (a Python with torch); empty: $RECAST_WORKER, else 'recast' on PATH"),
)

#: knobs whose values shape the render: changing one after a render makes the result stale
JOB_KNOBS = tuple(k.name for k in KNOBS if k.kind not in ("button", "status", "divider")
                  and k.name not in ("output_folder", "worker"))


def _job_field(path: str) -> dataclasses.Field:
    section, _, name = path.rpartition(".")
    cls = WindowSpec if section == "window" else Job
    return next(f for f in dataclasses.fields(cls) if f.name == name)


def default(spec: KnobSpec):
    if spec.field is None:
        return spec.default
    f = _job_field(spec.field)
    return f.default if f.default is not dataclasses.MISSING else spec.default


def tooltip(spec: KnobSpec) -> str:
    return _job_field(spec.field).metadata["doc"] if spec.field else spec.tooltip


def add_knobs(node, nuke) -> None:
    """Add every knob of :data:`KNOBS` to ``node`` (a Group), tab by tab, set to its default."""
    tab = None
    for spec in KNOBS:
        if spec.tab != tab:
            node.addKnob(nuke.Tab_Knob(spec.tab.lower(), spec.tab))
            tab = spec.tab
        knob = _make(spec, nuke)
        node.addKnob(knob)
    node.addKnob(nuke.String_Knob("recast_rendered", "rendered with"))  # the values of the last render
    node["recast_rendered"].setFlag(nuke.INVISIBLE)


def _make(spec: KnobSpec, nuke):
    value = default(spec)
    if spec.kind == "prompt":
        knob = nuke.Multiline_Eval_String_Knob(spec.name, spec.label, value)
    elif spec.kind == "text":
        knob = nuke.String_Knob(spec.name, spec.label, value)
    elif spec.kind == "file":
        knob = nuke.File_Knob(spec.name, spec.label)
    elif spec.kind in ("int", "float"):
        knob = (nuke.Int_Knob if spec.kind == "int" else nuke.Double_Knob)(spec.name, spec.label)
        if spec.lo is not None:
            knob.setRange(spec.lo, spec.hi)
        knob.setValue(value)
    elif spec.kind == "bool":
        knob = nuke.Boolean_Knob(spec.name, spec.label, value)
        knob.setFlag(nuke.STARTLINE)
    elif spec.kind == "choice":
        knob = nuke.Enumeration_Knob(spec.name, spec.label, list(spec.items))
        knob.setValue(value)
    elif spec.kind == "button":
        knob = nuke.PyScript_Knob(spec.name, spec.label, spec.command)
    elif spec.kind == "status":
        knob = nuke.Text_Knob(spec.name, spec.label, "not rendered")
    else:
        knob = nuke.Text_Knob(spec.name, "")
    if spec.kind in ("file", "text") and value:
        knob.setValue(value)
    tip = tooltip(spec)
    if tip:
        knob.setTooltip(tip)
    return knob


def knob_values(node) -> dict:
    """The node's parameter knobs as plain values (name → value)."""
    return {name: node[name].value() for name in JOB_KNOBS + ("output_folder", "worker")}


@dataclass(frozen=True)
class Paths:
    """Where the node's files go (absolute)."""

    folder: str
    plate: str
    result: str
    job: str
    logs: str
    reference: str | None = None  #: the reference frame's file, when the 'ref' input is connected
    mask: str | None = None  #: the matte sequence, when the 'mask' input is connected


def job_data(values: dict, paths: Paths, first: int, last: int, colorspace: str | None) -> dict:
    """The job document for the node's ``values`` (what :meth:`Job.from_dict` validates)."""
    data: dict = {"schema": SCHEMA,
                  "input": {"pattern": paths.plate, "frames": f"{first}-{last}", "colorspace": colorspace,
                            "depth_channel": values["depth_channel"].strip() or None,
                            "mask_channel": (values["mask_channel"].strip() or None) if paths.mask else None,
                            "mask_pattern": paths.mask},
                  "output": {"pattern": paths.result},
                  "reference_image": paths.reference,
                  "window": {}}
    for spec in KNOBS:
        if spec.field is None or spec.name == "model":
            continue
        section, _, name = spec.field.rpartition(".")
        (data[section] if section else data)[name] = values[spec.name]
    model = values["model"]
    data["model"] = values["model_file"].strip() if model == MODEL_FILE else model
    return data
