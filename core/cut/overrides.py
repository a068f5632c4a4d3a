"""Per-shot overrides of the template job: what one shot of a cut does differently.

Three sources, later ones winning: a sidecar file keyed by shot name (CSV with a ``shot`` column and one
column per job field; or JSON ``{"sh010": {"prompt": ...}}``), the clip's markers whose
``metadata["recast"]`` holds fields, and the clip's own ``metadata["recast"]``. A field is named by its job
path (``prompt``, ``seed``, ``window.length``, ``input.colorspace``) or nested as in a job file
(``{"window": {"length": 8}}``). The plate, its frames and the output are the cut's to set.
"""

from __future__ import annotations

import csv
import json
import os

from ..errors import TimelineError

__all__ = ["CUT_FIELDS", "load_sidecar", "sidecar_beside", "overrides_for", "apply_overrides"]

#: job fields the cut sets itself (from the clip's media and range, and the cut's folder)
CUT_FIELDS = ("input.pattern", "input.frames", "output.pattern")


def _plain(value):
    """OpenTimelineIO's AnyDictionary/AnyVector as plain dicts and lists."""
    if hasattr(value, "items"):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)) or type(value).__name__ == "AnyVector":
        return [_plain(v) for v in value]
    return value


def _flatten(data: dict, prefix: str = "") -> dict:
    """``{"window": {"length": 8}}`` → ``{"window.length": 8}`` (a dict-valued field such as ``loras`` entries is a
    list, so it stays whole)."""
    out = {}
    for key, value in data.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and path in ("input", "output", "window", "customize", "matte"):
            out.update(_flatten(value, path + "."))
        else:
            out[path] = value
    return out


def _typed(path: str, text: str):
    """A CSV cell as its job field's type (an empty cell: not overridden)."""
    from ..job.table import job_field

    text = text.strip()
    try:
        kind = job_field(path).kind
    except KeyError:
        return text  # refused with the job's own 'unknown field' line
    try:
        if kind is bool:
            return text.lower() in ("1", "true", "yes", "on")
        return kind(text) if kind in (int, float) else text
    except ValueError:  # left as written: the shot's job refuses it in its own line and the other shots go on
        return text


def load_sidecar(path: str | None) -> dict[str, dict]:
    """Shot name → overrides (job path → value) from a CSV or JSON sidecar; {} when ``path`` is None."""
    if path is None:
        return {}
    try:
        with open(path, encoding="utf-8", newline="") as fh:
            if path.lower().endswith(".json"):
                data = json.load(fh)
                if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
                    raise TimelineError(f"overrides sidecar {path!r}: expected {{shot name: {{job field: value}}}}")
                return {str(k): _flatten(v) for k, v in data.items()}
            rows = list(csv.DictReader(fh))
    except OSError as exc:
        raise TimelineError(f"cannot read overrides sidecar {path!r}: {exc.strerror}") from None
    except (json.JSONDecodeError, UnicodeDecodeError, csv.Error) as exc:
        raise TimelineError(f"overrides sidecar {path!r} cannot be read: {exc}") from None
    out = {}
    for row in rows:
        name = (row.pop("shot", None) or "").strip()
        if not name:
            raise TimelineError(f"overrides sidecar {path!r}: every row needs a 'shot' column naming its shot")
        out[name] = {k.strip(): _typed(k.strip(), v) for k, v in row.items() if k and v is not None and v.strip()}
    return out


def sidecar_beside(timeline: str) -> str | None:
    """``<timeline stem>.recast.csv`` or ``.recast.json`` beside the timeline, when there is one."""
    stem = os.path.splitext(timeline)[0]
    for ext in (".recast.csv", ".recast.json"):
        if os.path.isfile(stem + ext):
            return stem + ext
    return None


def overrides_for(clip, names: list[str], sidecar: dict[str, dict]) -> dict:
    """The overrides of one clip: sidecar (by any of ``names``), then markers, then the clip's metadata."""
    out = {}
    for name in names:
        if name in sidecar:
            out.update(sidecar[name])
            break
    for marker in clip.markers:
        mine = marker.metadata.get("recast") if "recast" in marker.metadata else None
        if hasattr(mine, "items"):
            out.update(_flatten(_plain(mine)))
    mine = clip.metadata.get("recast") if "recast" in clip.metadata else None
    if mine is not None and not hasattr(mine, "items"):
        raise ValueError(f"its metadata 'recast' is {type(mine).__name__}, not a dict of job fields")
    if mine is not None:
        out.update(_flatten(_plain(mine)))
    return out


def apply_overrides(data: dict, overrides: dict) -> dict:
    """The job document ``data`` with ``overrides`` (job path → value) set; ValueError naming a cut field."""
    for path, value in overrides.items():
        if path in CUT_FIELDS:
            raise ValueError(f"its override of '{path}' is not allowed: the cut sets it from the clip")
        section, _, name = path.rpartition(".")
        target = data.setdefault(section, {}) if section else data
        if not isinstance(target, dict):
            target = data[section] = {}
        target[name] = value
    return data
