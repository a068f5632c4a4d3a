"""The job's checks of its speed-and-scale fields: ``cache`` (diffusers' cache hooks), ``attention`` (a kernel of
diffusers' dispatcher) and ``devices`` (one shot on several devices); as :mod:`.checks`, each returns the normalised
value or raises ValueError naming what is allowed."""

from __future__ import annotations

import json
import math
import re

from .checks import _allows

__all__ = ["CACHE_METHODS", "ATTENTION_KERNELS", "_cache", "_devices", "describe", "speed_notes"]

#: cache methods (diffusers' hooks) and the settings each takes, with diffusers' defaults
CACHE_METHODS = {"first_block": {"threshold": 0.05}, "mag": {"threshold": 0.06, "ratios": None},
                 "taylorseer": {"interval": 5, "warmup": 3}}
ATTENTION_KERNELS = ("auto", "sdpa", "flash", "sage")


def _cache(v):
    """A cache hook: {"method": "first_block", "threshold": 0.2}, or (on the command line) 'METHOD[:THRESHOLD]';
    normalised to an object holding every setting of its method (defaults filled in: what headers record)."""
    names = ", ".join(repr(m) for m in CACHE_METHODS)
    expected = (f"a cache hook such as {{\"method\": \"first_block\", \"threshold\": 0.2}} (methods {names}), "
                "or null")
    if isinstance(v, str) and v.lstrip().startswith("{"):  # the job file's form, given on the command line
        try:
            v = json.loads(v)
        except ValueError:
            raise ValueError(f"{expected} (its JSON does not parse)") from None
    elif isinstance(v, str):  # 'first_block:0.2'
        head, sep, tail = v.partition(":")
        try:
            v = {"method": head.strip(), **({"threshold": float(tail)} if sep else {})}
        except ValueError:
            raise ValueError(expected) from None
    if not isinstance(v, dict) or v.get("method") not in CACHE_METHODS:
        raise ValueError(expected)
    allowed = CACHE_METHODS[v["method"]]
    extra = sorted(set(v) - set(allowed) - {"method"})
    if extra:
        raise ValueError(f"{expected}; method {v['method']!r} takes {', '.join(allowed) or 'no settings'}, "
                         f"not {extra[0]!r}")
    out = {"method": v["method"], **allowed, **{k: v[k] for k in allowed if k in v}}
    if "threshold" in out and (isinstance(out["threshold"], bool) or not isinstance(out["threshold"], (int, float))
                               or not math.isfinite(out["threshold"]) or not 0 < out["threshold"] <= 1):
        raise ValueError(f"{expected}; 'threshold' is a number above 0 and at most 1")
    for key in ("interval", "warmup"):
        if key in out and (isinstance(out[key], bool) or not isinstance(out[key], int) or not 0 <= out[key] <= 100
                           or (key == "interval" and out[key] < 1)):
            raise ValueError(f"{expected}; {key!r} is a whole number of steps")
    if out["method"] == "mag":
        ratios = out["ratios"]
        if not isinstance(ratios, list) or len(ratios) < 2 or not all(
                isinstance(r, (int, float)) and not isinstance(r, bool) and math.isfinite(r) and r > 0 for r in ratios):
            raise ValueError(f"{expected}; method 'mag' needs 'ratios': the model's per-step magnitude ratios "
                             "(MagCache's calibration of this model), a list of positive numbers")
        out["ratios"] = [float(r) for r in ratios]
    return out


_allows(_cache, str)


def _devices(v):
    """Several devices for one shot: ['cuda:0', 'cuda:1'] (on the command line 'cuda:0,cuda:1')."""
    expected = "a list of two or more devices such as [\"cuda:0\", \"cuda:1\"] ('cpu', 'cuda:N'), or null"
    if not isinstance(v, list) or not 2 <= len(v) <= 16 or not all(
            isinstance(d, str) and d in ("cpu",) or isinstance(d, str) and re.match(r"^cuda:\d+$", d) for d in v):
        raise ValueError(expected)
    if len({d for d in v if d != "cpu"}) != len([d for d in v if d != "cpu"]):
        raise ValueError(expected + "; each GPU once")
    return list(v)


_allows(_devices, list)


def describe(cache: dict | None) -> str:
    """The job's cache as frame headers record it ('' when off)."""
    return json.dumps(cache, sort_keys=True, separators=(",", ":")) if cache else ""


def speed_notes(job) -> dict[str, str]:
    """The frame headers' record of the cache hook, attention kernel and devices a render ran with (when set)."""
    return {**({"recast/cache": describe(job.cache)} if job.cache else {}),
            **({"recast/attention": job.attention} if job.attention != "auto" else {}),
            **({"recast/devices": ",".join(job.devices)} if job.devices else {})}
