"""Quick looks beside a shot's renders, for the hosts: previews (``recast render --preview``) and variants
(``recast variants``), each a version folder the worker made (``<output folder>/recast_previews/vNNN/``,
``recast_variants/vNNN/``) holding the ``job.json`` that made it; and the live previews of a render in hand
(``preview`` events: a small PNG per frame, rewritten each step).

A host's preview or variants job writes its output as ``<folder>/<stem>.####.exr``, so its looks are
``<folder>/recast_previews`` and ``<folder>/recast_variants``, apart from its final renders (``<folder>/render/vNNN``).
No host module here.
"""

from __future__ import annotations

import json
import os
import re

from .host_job import HostError

__all__ = ["PREVIEWS", "VARIANTS", "Look", "looks", "split_prompts", "variant_label", "live_pattern", "look_output"]

PREVIEWS, VARIANTS = "recast_previews", "recast_variants"  #: the worker's version folders (core.pipeline.variants)
_V = re.compile(r"^v(\d{3,})$")
_FRAME = re.compile(r"\.(\d+)\.png$")


def split_prompts(text: str) -> list[str]:
    """The prompts of a variants field: one a line (Nuke's multi-line knob), or separated by ``|`` on one line
    (Blender's one-line field); blank ones dropped. :class:`HostError` when there is none."""
    lines = [ln for ln in text.splitlines() if ln.strip()]
    parts = lines if len(lines) > 1 else [p for p in text.split("|") if p.strip()]
    prompts = [" ".join(p.split()) for p in parts]
    if not prompts:
        raise HostError("no variant prompts: type one prompt a line (in Blender: separate them with '|')")
    return prompts


def variant_label(values: dict) -> str:
    """A variant's values as one short line: ``chalk`` (a prompt alone), ``chalk · seed 7``."""
    parts = []
    for axis, value in (values or {}).items():
        if axis == "prompt":
            parts.insert(0, str(value))
        elif axis == "reference":
            parts.append(f"ref {os.path.basename(str(value))}")
        else:
            parts.append(f"{axis.replace('_', ' ')} {value}")
    return " · ".join(parts)


def live_pattern(path: str) -> str:
    """``…/preview.1001.png`` (a ``preview`` event's path) → ``…/preview.####.png``."""
    return _FRAME.sub(".####.png", path)


def look_output(folder: str, stem: str) -> str:
    """The output pattern of a host's preview or variants job: its looks go beside it."""
    return os.path.join(folder, f"{stem}.####.exr")


class Look:
    """One preview or variant on disk."""

    def __init__(self, kind: str, version: int, folder: str):
        self.kind, self.version, self.folder = kind, version, folder  #: kind: 'preview' or 'variant'
        try:
            with open(os.path.join(folder, "job.json"), encoding="utf-8") as fh:
                self.job = json.load(fh)
        except (OSError, ValueError):
            self.job = {}

    @property
    def output(self) -> str | None:
        """The look's frame pattern (absolute), from its job."""
        pattern = (self.job.get("output") or {}).get("pattern")
        return pattern if pattern is None or os.path.isabs(pattern) else os.path.join(self.folder, pattern)

    @property
    def frames(self) -> tuple[int, int] | None:
        text = str((self.job.get("input") or {}).get("frames") or "")
        m = re.match(r"^\s*(-?\d+)\s*(?:-\s*(-?\d+))?\s*$", text)
        return (int(m.group(1)), int(m.group(2) or m.group(1))) if m else None

    @property
    def name(self) -> str:
        """What a menu shows: ``preview v001``, ``variant v003: chalk``."""
        prompt = " ".join(str(self.job.get("prompt") or "").split())
        text = f"{self.kind} v{self.version:03d}"
        if self.kind == "variant" and prompt:
            text += f": {prompt[:40]}"
        return text


def looks(folder: str) -> list[Look]:
    """The previews, then the variants, under a host's output ``folder``, oldest first."""
    out = []
    for kind, sub in (("preview", PREVIEWS), ("variant", VARIANTS)):
        root = os.path.join(folder, sub)
        try:
            names = os.listdir(root)
        except OSError:
            continue
        for number, name in sorted((int(m.group(1)), m.group(0)) for m in map(_V.match, names) if m):
            if os.path.isfile(os.path.join(root, name, "job.json")):
                out.append(Look(kind, number, os.path.join(root, name)))
    return out
