"""The Recast node's knobs and the job file they make.

Every knob is a :class:`~recast.plugin.common.params.Param`: the job's parameters come from
:data:`~recast.plugin.common.params.JOB_PARAMS` (shared with the Blender panel, defaults and
tooltips from the job schema), the Nuke-only controls (frame range, output folder, inputs'
options, buttons) are listed here. Nothing here imports ``nuke``: :func:`add_knobs` is handed
the module, and the rest works on plain values.
"""

from __future__ import annotations

from dataclasses import dataclass

from recast.core.job import SCHEMA

from ..common.params import JOB_PARAMS, MODEL_FILE, TRAIN_PARAMS, Param, fill_job, job_param

__all__ = ["KNOBS", "JOB_KNOBS", "ITERATE_KNOBS", "option", "add_knobs", "knob_values", "job_data", "Paths", "MODEL_FILE"]


def _b(action):
    return f"import recast.plugin.nuke_node as _recast\n_recast.{action}(nuke.thisNode())"


_MAIN = tuple(p for p in JOB_PARAMS if not p.advanced)
#: the farm's settings for Submit to Deadline (a saved script's node may lack them: read with :func:`option`)
FARM_KNOBS = (
    Param("farm_chunk_size", "int", "farm chunk size", default=16, lo=1, hi=10000, advanced=True,
          doc="frames per render task on the farm (handles come on top)"),
    Param("deadline_pool", "text", "Deadline pool", default="", advanced=True, doc="empty: the repository's default"),
    Param("deadline_group", "text", "Deadline group", default="", advanced=True, doc="empty: the repository's default"),
    Param("deadline_priority", "int", "Deadline priority", default=50, lo=0, hi=100, advanced=True,
          doc="the jobs' priority, 0-100"),
)
KNOBS: tuple[Param, ...] = (
    *_MAIN[:_MAIN.index(job_param("model"))],
    Param("range_divider", "divider", ""),
    Param("use_input_range", "bool", "use input range", default=True,
          doc="render the plate input's whole frame range; untick to set first and last"),
    Param("first_frame", "int", "first", default=1001, doc="first frame to render"),
    Param("last_frame", "int", "last", default=1100, doc="last frame to render"),
    *_MAIN[_MAIN.index(job_param("model")):],
    *TRAIN_PARAMS,
    Param("train_lora", "button", "Train LoRA", command=_b("train_lora"),
          doc="train a LoRA on the plate's frames (the frame range above) in the background; when done it goes in "
              "the first free LoRA slot"),
    Param("models", "status", "models", default="not checked: press Check models",
          doc="which parts of the model preset the worker has"),
    Param("check_models", "button", "Check models", command=_b("check_models"),
          doc="ask the worker which parts of the chosen model preset it has"),
    Param("fetch_models", "button", "Fetch models", command=_b("fetch_models"),
          doc="download the preset's missing parts in the background (needs a network, or HF_ENDPOINT's mirror)"),
    Param("output_folder", "file", "output folder", default="",
          doc="where the plate, job, logs and result go; empty: recast/<node name> beside the saved script"),
    Param("buttons_divider", "divider", ""),
    Param("render", "button", "Render", command=_b("render"), doc="write the plate and render it in the background"),
    Param("cancel", "button", "Cancel", command=_b("cancel"), doc="stop this node's render"),
    Param("submit", "button", "Submit to farm", command=_b("submit"), doc="write the plate, the job and a farm bundle"),
    Param("submit_deadline", "button", "Submit to Deadline", command=_b("submit_deadline"),
          doc="write the plate and the job and submit them to Deadline 10 (the Recast plugin; pool, group, priority "
              "and chunk size on the Advanced tab)"),
    Param("status", "status", "status"),
    Param("note", "status", "note", default="",
          doc="the worker's last warning, e.g. that the desk service could not start and the render ran here"),
    Param("version", "int", "version", default=0,
          doc="the render the node shows: each render with changed values is a new version (v001, v002, ...); "
              "set an earlier number to see it again"),
    Param("iterate_divider", "divider", ""),
    Param("preview", "button", "Preview", command=_b("preview"),
          doc="a quick look in seconds: 256 px, the preset's fast tier, the first window; a new version in "
              "recast_previews/ (never over a render), shown by the node"),
    Param("variant_prompts", "prompt", "variant prompts", default="",
          doc="one prompt a line: Variants renders each as a quick look of its own"),
    Param("variants", "button", "Variants", command=_b("variants"),
          doc="render a quick look per line of 'variant prompts' (new versions in recast_variants/); beside the "
              "node: a Read per variant behind a Switch, and a ContactSheet of them"),
    Param("look", "choice", "show", items=("render",), default="render",
          doc="what the node shows: its render (the version above), or a preview or variant made earlier"),
    Param("review", "button", "Review", command=_b("review"),
          doc="write the review of the render, previews and variants (recast review: a flipbook that plays and "
              "compares them) and open it in the default browser"),
    Param("decisions", "file", "decisions file", default="",
          doc="the decisions exported from the review page (recast_picks.json); empty: Use approved asks for it"),
    Param("use_approved", "button", "Use approved", command=_b("use_approved"),
          doc="show the version the review's decisions approve (the 'show' menu, or the render's version)"),
    Param("use_desk", "bool", "use desk service", default=True,
          doc="render in your desk service, which keeps the models loaded between renders (started on demand; "
              "renders here when it cannot start)"),
    Param("live_previews", "bool", "live previews", default=True,
          doc="while denoising, the node shows a small picture of the frames in hand, updated every step"),
    *(p for p in JOB_PARAMS if p.advanced),
    Param("colorspace", "text", "plate colour space", default="", advanced=True,
          doc="OCIO name of the plate's colour space; empty: the script's working space"),
    Param("depth_channel", "text", "depth channel", default="", advanced=True,
          doc="use this channel of the plate (e.g. depth.Z) as structure instead of estimating depth"),
    Param("mask_channel", "text", "mask channel", default="A", advanced=True,
          doc="channel of the 'mask' input that limits the edit (1 = edit, 0 = keep the plate)"),
    Param("ref_frame", "int", "reference frame", default=1001, advanced=True,
          doc="frame of the 'ref' input used as the reference image"),
    Param("worker", "text", "worker command", default="", advanced=True,
          doc="command that runs Recast (a Python with torch); empty: $RECAST_WORKER, else 'recast' on PATH"),
    *FARM_KNOBS,
)

#: how the node iterates (not what it renders): read where a saved script's node may lack them
ITERATE_KNOBS = ("variant_prompts", "look", "decisions", "use_desk", "live_previews")
#: knobs whose values shape the render: changing one after a render makes the result stale
JOB_KNOBS = tuple(k.name for k in KNOBS if k.kind not in ("button", "status", "divider")
                  and k.name not in ("output_folder", "worker", "version", "train_token", "train_steps")
                  and k.name not in ITERATE_KNOBS and k not in FARM_KNOBS)


def add_knobs(node, nuke, specs=KNOBS, title: str = "Recast") -> None:
    """Add every knob of ``specs`` (default :data:`KNOBS`) to ``node`` (a Group), tab by tab, set to its
    default; the main tab is called ``title``."""
    tab = None
    for spec in specs:
        if spec.advanced != tab:
            name = "Advanced" if spec.advanced else title
            node.addKnob(nuke.Tab_Knob(name.lower(), name))
            tab = spec.advanced
        knob = _make(spec, nuke)
        node.addKnob(knob)
    node.addKnob(nuke.String_Knob("recast_rendered", "rendered with"))  # the values of the last render
    node["recast_rendered"].setFlag(nuke.INVISIBLE)


def _make(spec: Param, nuke):
    value = spec.default_value
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
    elif spec.kind == "xy":  # a position the artist drags in the Viewer
        knob = nuke.XY_Knob(spec.name, spec.label)
        knob.setValue(list(value))
    elif spec.kind == "button":
        knob = nuke.PyScript_Knob(spec.name, spec.label, spec.command)
    elif spec.kind == "status":
        knob = nuke.Text_Knob(spec.name, spec.label, spec.default if spec.default is not None else "not rendered")
    else:
        knob = nuke.Text_Knob(spec.name, "")
    if spec.kind in ("file", "text") and value:
        knob.setValue(value)
    tip = spec.tooltip
    if tip:
        knob.setTooltip(tip)
    return knob


def knob_values(node, names=None, specs=KNOBS) -> dict:
    """The node's parameter knobs (``names``, default the job's and the output folder and worker) as plain
    values (name → value). Text is read as typed (``getText()``): a prompt's ``value()`` is evaluated as TCL by
    Nuke, so '[...]' or '$' in it would change the prompt."""
    raw = {k.name for k in specs if k.kind in ("prompt", "text", "file")}
    names = names if names is not None else JOB_KNOBS + ("output_folder", "worker")
    return {name: node[name].getText() if name in raw else node[name].value() for name in names}


def option(node, name: str):
    """An iteration knob's value as typed, or its default on a node saved before it existed."""
    spec = next(k for k in KNOBS if k.name == name)
    knob = node.knob(name)
    if knob is None:
        return spec.default_value
    return knob.getText() if spec.kind in ("prompt", "text") else knob.value()


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
    fill_job(data, values)
    return data
