"""The job-field table: every field a person sets, with its CLI flag, type, range or choices, default
and doc — the one table the CLI's flags and ``--help``, and the hosts' controls, are made from."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from .document import _SECTIONS, Job
from .sections import InputSpec, OutputSpec, WindowSpec

__all__ = ["FieldInfo", "JOB_FIELDS", "job_field"]


@dataclass(frozen=True)
class FieldInfo:
    """One job field as the CLI and the hosts describe it."""

    path: str  #: 'prompt', 'input.frames', 'window.length'
    flag: str  #: the CLI flag's stem ('input_frames' → --input-frames)
    kind: type  #: str, int or float
    doc: str
    default: Any = None  #: None for required fields and optional ones
    required: bool = False
    lo: float | None = None
    hi: float | None = None
    choices: tuple = ()

    def describe(self) -> str:
        """Doc, range or choices, and default: one help line."""
        text = self.doc
        if self.choices:
            text += f"; one of {', '.join(map(str, self.choices))}"
        elif self.lo is not None:
            text += f"; {_number(self.lo)}..{_number(self.hi)}"
        if self.required:
            return text + " (required)"
        return text + (f" (default {self.default!r})" if self.default is not None else "")


def _number(value) -> str:
    """A bound as a person reads it: whole numbers in full (4294967295, never 4.29497e+09), others short."""
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _field_infos() -> tuple[FieldInfo, ...]:
    out = []
    for section, cls in (("", Job), ("input", InputSpec), ("output", OutputSpec), ("window", WindowSpec)):
        for f in dataclasses.fields(cls):
            meta = f.metadata
            if meta.get("internal") or _SECTIONS.get(f.type) or "check" not in meta or f.name == "schema":
                continue
            check = meta["check"]
            default = None if f.default is dataclasses.MISSING else f.default
            out.append(FieldInfo(path=f"{section}.{f.name}" if section else f.name, flag=meta.get("flag") or f.name,
                                 kind=getattr(check, "kind", str), doc=meta["doc"], default=default,
                                 required=meta.get("required", False), lo=getattr(check, "lo", None),
                                 hi=getattr(check, "hi", None), choices=getattr(check, "choices", ())))
    return tuple(out)


#: every job field a person sets (the CLI's flags and the hosts' controls are made from this table)
JOB_FIELDS: tuple[FieldInfo, ...] = _field_infos()


def job_field(path: str) -> FieldInfo:
    """The :class:`FieldInfo` of ``path`` ('steps', 'window.length', ...)."""
    for info in JOB_FIELDS:
        if info.path == path:
            return info
    raise KeyError(path)
