"""``recast eval``'s per-frame figures for a version, where they were computed.

``recast eval`` writes ``recast_report/<render name>_vNNN/metrics.json`` beside the result's folder
(:func:`recast.core.metrics.evaluate.report_folder_for`); several renders may share that folder (the variants of
one output do), so a report counts for a version when its ``result`` names the version's pattern. The newest
such report wins.
"""

from __future__ import annotations

import json
import os
import re

__all__ = ["metrics_for"]

_KEEP = ("frame_consistency", "prompt_consistency", "warp_error", "structure_fidelity")


def metrics_for(pattern: str) -> dict | None:
    """``{metric: {frame: value}}`` and the shot means (``means``) of the newest report of ``pattern``, or None."""
    from ..metrics.evaluate import report_folder_for

    base = report_folder_for(pattern)
    parent, name = os.path.dirname(base), os.path.basename(base)
    if not os.path.isdir(parent):
        return None
    rx = re.compile(re.escape(name) + r"_v(\d+)$")
    found = sorted(((int(m.group(1)), n) for n in os.listdir(parent) if (m := rx.match(n))), reverse=True)
    want = os.path.realpath(pattern)
    for _, folder in found:
        try:
            with open(os.path.join(parent, folder, "metrics.json"), encoding="utf-8") as fh:
                data = json.load(fh)
        except (OSError, ValueError):
            continue
        result = data.get("result") if isinstance(data, dict) else None
        if not isinstance(result, str) or os.path.realpath(result) != want:
            continue
        rows = data.get("per_frame") if isinstance(data.get("per_frame"), list) else []
        out = {"means": {m: data.get(m) for m in _KEEP if isinstance(data.get(m), (int, float))}}
        for m in _KEEP:
            series = {str(r["frame"]): r[m] for r in rows
                      if isinstance(r, dict) and isinstance(r.get(m), (int, float)) and "frame" in r}
            if series:
                out[m] = series
        return out
    return None
