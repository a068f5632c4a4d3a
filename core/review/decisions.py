"""Decisions exported from the review page (approve / reject and a note per version), read back for the terminal.

The page writes ``recast.review-decisions/1``::

    {"schema": "recast.review-decisions/1", "job": "/shots/sh010/job.json", "plate": "...", "exported": "...",
     "decisions": [{"version": "v002", "title": "variant v002", "job": ".../v002/job.json",
                    "output": ".../sh010_recast.####.exr", "labels": {"prompt": "…", "seed": 3},
                    "decision": "approved" | "rejected" | null, "note": "…"}]}
"""

from __future__ import annotations

import json

from ..errors import RecastError

__all__ = ["SCHEMA", "read_decisions", "format_decisions", "approved"]

SCHEMA = "recast.review-decisions/1"
_DECISIONS = (None, "approved", "rejected")


def read_decisions(path: str) -> dict:
    """The decision file at ``path``, checked; RecastError in one line for anything else."""
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except FileNotFoundError:
        raise RecastError(f"decision file {path!r} does not exist; give the file the review page exported") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise RecastError(f"decision file {path!r} cannot be read as JSON ({exc}); give the file the review page "
                          "exported") from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA or not isinstance(data.get("decisions"), list):
        raise RecastError(f"{path!r} is not a review decision file (schema {SCHEMA!r}); give the file the review "
                          "page exported")
    for d in data["decisions"]:
        if not isinstance(d, dict) or not isinstance(d.get("version"), str) or d.get("decision") not in _DECISIONS:
            raise RecastError(f"decision file {path!r}: a decision is malformed ({json.dumps(d)[:80]}): each needs a "
                              "'version' and a 'decision' of \"approved\", \"rejected\" or null; export it again "
                              "from the review page")
    return data


def approved(data: dict) -> list[dict]:
    """The approved versions of a decision file, in its order."""
    return [d for d in data["decisions"] if d.get("decision") == "approved"]


def format_decisions(data: dict) -> str:
    """The decisions as a terminal table: version, decision, note, then the job file that renders it."""
    rows = [(d["version"], d.get("decision") or "–", " ".join(str(d.get("note") or "").split()),
             str(d.get("job") or d.get("output") or "")) for d in data["decisions"]]
    head = ("version", "decision", "note", "job")
    widths = [max(len(r[k]) for r in rows + [head]) for k in range(3)]
    lines = [f"review of {data.get('job', '?')} (exported {data.get('exported', '?')})", ""]
    for r in [head] + rows:
        lines.append("  ".join(r[k].ljust(widths[k]) for k in range(3)) + "  " + r[3])
    picked = approved(data)
    lines.append("")
    lines.append(f"approved: {', '.join(d['version'] for d in picked)}" if picked else "approved: none")
    return "\n".join(lines)
