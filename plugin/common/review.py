"""The hosts' Review and Use approved: the review of a node's or strip's work in the default browser, and the
version its exported decisions approve shown by the host. No host module here.

A host's output folder (the Nuke node's, a Blender strip's) holds ``<stem>.recast.json`` (its render: output
``render/vNNN/``) and ``<stem>.preview.recast.json`` / ``<stem>.variants.recast.json`` (its quick looks: output
beside them, so their versions are ``recast_previews/vNNN`` and ``recast_variants/vNNN``). ``recast review``
finds the variants and previews beside a job's output, so the review of the host's work is the looks' job with the
render's job compared (``--compare``), or whichever of the two has anything on disk; it goes to
``<folder>/review/``. When the worker is done its ``done`` event names the page, opened with :data:`OPEN`
(``webbrowser.open``; tests replace it) as a ``file://`` URL.

**Use approved** reads the decision file the page exported (``recast_picks.json``): one approved version of this
shot (its plate is the host's) becomes a :class:`Approved` — a look's menu name, or a render version — that the
host shows. A file that approves none, several, or a version of another shot is one line.
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import webbrowser
from dataclasses import dataclass

from .host_job import HostError
from .looks import looks
from .worker import WorkerProcess

__all__ = ["OPEN", "REVIEW", "review_args", "ReviewProcess", "page_url", "open_page", "Approved", "approved_version"]

OPEN = webbrowser.open  #: how a page is opened in the default browser (tests patch it)
REVIEW = "review"  #: the review's folder in the host's output folder
_RENDER_V = re.compile(r"^v(\d{3,})$")


def _job_files(folder: str, stem: str) -> tuple[str, str | None]:
    """The render's job file and the looks' (variants, else preview) where written."""
    looks_job = next((p for p in (os.path.join(folder, f"{stem}.{k}.recast.json") for k in ("variants", "preview"))
                      if os.path.isfile(p)), None)
    return os.path.join(folder, f"{stem}.recast.json"), looks_job


def _output_has_frames(job_file: str) -> bool:
    from recast.core.io.frames import SequencePattern

    try:
        with open(job_file, encoding="utf-8") as fh:
            pattern = (json.load(fh).get("output") or {}).get("pattern")
        return bool(pattern) and bool(SequencePattern.parse(pattern).scan())
    except (OSError, ValueError, AttributeError):
        return False


def review_args(folder: str, stem: str) -> list[str]:
    """The worker's arguments for the review of the work in ``folder`` (``stem``: the node's or strip's file stem);
    HostError when nothing was rendered there yet."""
    render_job, looks_job = _job_files(folder, stem)
    rendered = os.path.isfile(render_job) and _output_has_frames(render_job)
    jobs = ([looks_job] if looks_job and looks(folder) else []) + ([render_job] if rendered else [])
    if not jobs:
        raise HostError("nothing to review yet: render, preview or make variants first")
    args = ["review", "--job", jobs[0]]
    for other in jobs[1:]:
        args += ["--compare", other]
    return args + ["--out", os.path.join(folder, REVIEW)]


class ReviewProcess(WorkerProcess):
    """One ``recast review`` run of a host's work; its ``done`` event's ``path`` is the page (:attr:`page`)."""

    unit = "proxies"

    def __init__(self, folder: str, stem: str, command=None, log_dir: str | None = None, on_event=None,
                 platform: str | None = None):
        super().__init__(review_args(folder, stem), f"{stem}_review", command, log_dir, on_event, platform)

    @property
    def page(self) -> str | None:
        """The review's ``index.html`` once done."""
        done = [e for e in self.events if e.get("event") == "done" and e.get("path")]
        return done[-1]["path"] if done else None


def page_url(path: str) -> str:
    """The ``file://`` URL of a page on disk (spaces and non-ASCII characters quoted)."""
    return pathlib.Path(os.path.abspath(path)).as_uri()


def open_page(path: str) -> str:
    """Open the page at ``path`` in the default browser; returns its URL."""
    url = page_url(path)
    OPEN(url)
    return url


@dataclass(frozen=True)
class Approved:
    """The version a decision file approves, as the host shows it."""

    kind: str  #: 'preview', 'variant' (a quick look: ``look`` is its menu name) or 'render'
    version: int  #: its number: ``recast_previews/vNNN``, ``recast_variants/vNNN`` or ``render/vNNN``
    title: str  #: what the page called it (e.g. 'variant v002')
    output: str  #: its frames' pattern
    look: str | None = None  #: a look's name in the Nuke node's 'show' menu ('variant v002: chalk')
    frames: tuple[int, int] | None = None  #: its first and last frame on disk
    note: str = ""  #: the reviewer's note


def _plate_of(folder: str, stem: str) -> str | None:
    for job_file in _job_files(folder, stem):
        try:
            with open(job_file or "", encoding="utf-8") as fh:
                return (json.load(fh).get("input") or {}).get("pattern")
        except (OSError, ValueError):
            continue
    return None


def _frames(pattern: str):
    from recast.core.io.frames import SequencePattern

    found = SequencePattern.parse(pattern).scan()
    return (min(found), max(found)) if found else None


def approved_version(picks: str, folder: str, stem: str) -> Approved:
    """The version the decision file ``picks`` approves, among the host's work in ``folder``; HostError (one line)
    when it approves none or several, or a version of another shot."""
    from recast.core.review.decisions import approved, read_decisions

    data = read_decisions(picks)  # a RecastError: one line already
    name = os.path.basename(picks)
    plate = _plate_of(folder, stem)
    if plate is None:
        raise HostError("nothing rendered here yet, so nothing to approve: render, preview or make variants first")
    if os.path.realpath(str(data.get("plate"))) != os.path.realpath(plate):
        raise HostError(f"{name} is the review of another shot (plate {data.get('plate')}); this one's plate is "
                        f"{plate}: export the decisions of this shot's review")
    chosen = approved(data)
    if not chosen:
        raise HostError(f"{name} approves no version; approve one in the review page and export again")
    if len(chosen) > 1:
        raise HostError(f"{name} approves {len(chosen)} versions ({', '.join(d['version'] for d in chosen)}); "
                        "approve one and export again")
    pick = chosen[0]
    output = os.path.realpath(str(pick.get("output")))
    title, note = str(pick.get("title") or pick["version"]), str(pick.get("note") or "")
    for look in looks(folder):
        if look.output and os.path.realpath(look.output) == output:
            return Approved(look.kind, look.version, title, look.output, look=look.name, frames=_frames(look.output),
                            note=note)
    version_dir = os.path.dirname(output)
    m = _RENDER_V.match(os.path.basename(version_dir))
    if m and os.path.realpath(os.path.dirname(version_dir)) == os.path.realpath(os.path.join(folder, "render")):
        return Approved("render", int(m.group(1)), title, str(pick["output"]), frames=_frames(output), note=note)
    raise HostError(f"{name} approves {pick['version']} ({pick.get('output')}), which is not a render, preview or "
                    f"variant of this shot in {folder}")
