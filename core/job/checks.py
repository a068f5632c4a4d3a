"""The job's field checks: each returns the normalised value or raises ValueError naming what is allowed.

Each check carries what it allows (``kind``: str/int/float; ``lo``/``hi``; ``choices``), so the
CLI flags, the hosts' controls and ``--help`` read ranges and choices from one place
(:data:`recast.core.job.JOB_FIELDS`).
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
from dataclasses import field

from ..errors import RecastError
from ..io.frames import FrameRange, SequencePattern

SCHEMA = "recast.job/1"

_DEVICE = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")


def _allows(check, kind, lo=None, hi=None, choices=()):
    check.kind, check.lo, check.hi, check.choices = kind, lo, hi, tuple(choices)
    return check


def _string(allow_empty=True):
    def check(v):
        if not isinstance(v, str) or (not allow_empty and not v.strip()):
            raise ValueError("text" if allow_empty else "non-empty text")
        return v
    return _allows(check, str)


PROMPT_LIMIT = 10_000  #: characters; text encoders read far less (CLIP: 77 tokens), the rest is cut with a warning


def _prompt(v):
    if not isinstance(v, str):
        raise ValueError("text")
    if len(v) > PROMPT_LIMIT:
        raise ValueError(f"text of at most {PROMPT_LIMIT} characters (this one has {len(v)}; the text encoder "
                         "reads the first 77 tokens, about 60 words)")
    return v


_allows(_prompt, str)


def _optional(check):
    def inner(v):
        return None if v is None else check(v)
    inner.optional = True
    return _allows(inner, getattr(check, "kind", str), getattr(check, "lo", None), getattr(check, "hi", None),
                   getattr(check, "choices", ()))


def _integer(lo, hi):
    def check(v):
        if isinstance(v, bool) or not isinstance(v, int):
            raise ValueError(f"an integer {lo}..{hi}")
        if not lo <= v <= hi:
            raise ValueError(f"an integer {lo}..{hi}")
        return v
    return _allows(check, int, lo, hi)


def _number(lo, hi, lo_open=False):
    bound = f"{'more than ' + str(lo) if lo_open else str(lo)}..{hi}"

    def check(v):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise ValueError(f"a number {bound}")
        if v < lo or v > hi or (lo_open and v == lo):
            raise ValueError(f"a number {bound}")
        return float(v)
    return _allows(check, float, lo, hi)


def _pattern(v):
    if not isinstance(v, str):
        raise ValueError("a frame pattern such as 'plate/sh010.####.exr'")
    try:
        SequencePattern.parse(v)
    except RecastError as exc:  # one sentence after the caller's 'expected': what a pattern is, then what is wrong
        why = str(exc).split("; ")[0].replace(f"sequence pattern {v!r} ", "", 1)
        folder, name = os.path.split(v)
        stem, ext = os.path.splitext(name)
        example = os.path.join(folder, f"{stem}.####{ext}") if stem and ext and "#" not in name else \
            "plate/sh010.####.exr"
        raise ValueError(f"a frame pattern with '####' (or '%04d', '$F4') where the frame number goes, such as "
                         f"{example!r}; this one {why}") from None
    return v


def _exr_pattern(v):
    _pattern(v)
    if not v.lower().endswith(".exr"):
        raise ValueError("a frame pattern ending in '.exr', such as 'render/sh010_recast.####.exr'")
    return v


def _frames(v):
    try:
        FrameRange.parse(v)
    except RecastError:
        raise ValueError("a frame range 'FIRST-LAST' such as '1001-1048', or null for every frame on disk") from None
    return str(FrameRange.parse(v))


def _device(v):
    if not isinstance(v, str) or not _DEVICE.match(v):
        raise ValueError("'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'")
    return v


def _resolution(v):
    if isinstance(v, bool) or not isinstance(v, int) or not 64 <= v <= 4096 or v % 8:
        raise ValueError("an integer 64..4096 that is a multiple of 8 (the long side the model runs at)")
    return v


_allows(_resolution, int, 64, 4096)


def _choice(*allowed):
    def check(v):
        if v not in allowed:
            raise ValueError(" or ".join(repr(a) for a in allowed))
        return v
    return _allows(check, str, choices=allowed)


def _colorspace(v):
    if not isinstance(v, str) or not v.strip():
        raise ValueError("a colour space name of the OCIO config, e.g. 'ACEScg' or 'Linear Rec.709 (sRGB)'")
    return _by_the_config(v, "resolve_colorspace")


def _by_the_config(v, check: str):
    """``recast.core.io.colour.<check>(v)`` against the OCIO config, importing OIIO only when a value needs it;
    a host's Python (Nuke, Blender) has no OpenImageIO, and the worker checks the value on load."""
    try:
        import OpenImageIO  # noqa: F401

        from ..io import colour
    except ImportError:
        return v
    try:
        getattr(colour, check)(v)
    except RecastError as exc:
        raise ValueError(str(exc)) from None
    return v


def _schema(v):
    if v != SCHEMA:
        raise ValueError(f"'{SCHEMA}'")
    return v


def _spec(check, doc, default=dataclasses.MISSING, required=False, flag=None):
    """A dataclass field with its check and documentation (``flag``: its CLI flag, when not the field's name)."""
    kw = {"metadata": {"check": check, "doc": doc, "required": required, "flag": flag}}
    if default is not dataclasses.MISSING:
        kw["default"] = default
    return field(**kw)


def _views(v):
    if not isinstance(v, list) or not v or not all(isinstance(x, str) and x.strip() for x in v) \
            or len(set(v)) != len(v):
        raise ValueError("a list of view names such as [\"left\", \"right\"], each once, or null for the "
                         "file's default (hero) view")
    return list(v)


_allows(_views, list)

def _boolean(v):
    if not isinstance(v, bool):
        raise ValueError("true or false")
    return v


_allows(_boolean, bool)

LORA_WEIGHT = (-2.0, 2.0)


def _loras(v):
    """A list of LoRAs: ``{"path": ..., "weight": w}`` objects, or (on the command line) 'PATH[:WEIGHT]' text;
    normalised to objects, weight 1.0 when not given."""
    lo, hi = LORA_WEIGHT
    expected = (f"a list of LoRAs such as [{{\"path\": \"look.safetensors\", \"weight\": 0.8}}] (weight {lo:g}..{hi:g}), "
                "or null")
    if not isinstance(v, list):
        raise ValueError(expected)
    out = []
    for item in v:
        if isinstance(item, str):  # 'path:0.8' (a Windows drive's colon is not a weight)
            head, sep, tail = item.rpartition(":")
            try:
                item = {"path": head, "weight": float(tail)} if sep and head and not tail.startswith(("\\", "/")) \
                    else {"path": item}
            except ValueError:
                item = {"path": item}
        if not isinstance(item, dict) or set(item) - {"path", "weight"} or not isinstance(item.get("path"), str) \
                or not item["path"].strip():
            raise ValueError(expected)
        weight = item.get("weight", 1.0)
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not math.isfinite(weight) \
                or not lo <= weight <= hi:
            raise ValueError(f"LoRA weights from {lo:g} to {hi:g} ({item['path']} has {weight!r})")
        out.append({"path": item["path"], "weight": float(weight)})
    return out or None


_allows(_loras, list)

MODEL_VIEWS = ("filmic", "clip")


def _model_view(v):
    if not isinstance(v, str) or not v.strip():
        raise ValueError("'filmic', 'clip' or an OCIO 'display/view' pair")
    if v in MODEL_VIEWS:
        return v
    display, sep, view = v.partition("/")
    if not sep or not display.strip() or not view.strip():
        raise ValueError("'filmic', 'clip' or an OCIO 'display/view' pair such as 'sRGB - Display/ACES 1.0 - SDR Video'")
    return _by_the_config(v, "check_display_view")


_allows(_model_view, str, choices=MODEL_VIEWS)


def _matte_objects(v):
    """The ``matte`` section's objects, parsed (:mod:`.prompts`) and kept in their JSON form."""
    from .prompts import objects_from_data, objects_to_data

    try:
        objects = objects_from_data(v)
    except RecastError as exc:
        raise ValueError(f"objects whose prompts read ({exc})") from None
    if not objects:
        raise ValueError("at least one object with a click or a box")
    return objects_to_data(objects)


_allows(_matte_objects, list)
