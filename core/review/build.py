"""The review folder of a job: its versions checked, proxies and page written into a hidden folder beside the
destination, then renamed into place (a reader never sees half a review; an earlier review there is replaced).

Numbered steps, every check before anything is written:
1. the versions (:func:`.versions.collect`: a job never rendered, versions of another shot — refused);
2. the view (:func:`.proxies.check_view`) and the destination (an unwritable folder, a folder of other files —
   refused);
3. the view baked into a lookup (:func:`.display_lut.bake`, once; in a folder removed after), proxies
   (:func:`.proxies.write_proxies`, parallel), metrics (:func:`.metrics.metrics_for`), the page;
4. published.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile

from ..errors import RecastError

__all__ = ["build_review", "check_destination", "REVIEW_FOLDER"]

REVIEW_FOLDER = "review"  #: the review's folder in the job's output folder, by default
_OURS = {"index.html", "data.js", "player.js", "player.css", "frames"}  #: what a review folder holds


def check_destination(folder: str) -> None:
    """RecastError, before anything is written, for a folder the review cannot be written to or must not replace."""
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise RecastError(f"review folder {folder!r} is a file; give a folder (--out DIR)")
    if os.path.isdir(folder) and os.listdir(folder) and not set(os.listdir(folder)) <= _OURS:
        raise RecastError(f"review folder {folder!r} holds other files; give an empty or new folder (--out DIR): "
                          "a review replaces only an earlier review")
    parent = os.path.dirname(os.path.abspath(folder))
    existing = parent
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing) or not os.access(existing, os.W_OK | os.X_OK):
        raise RecastError(f"review folder {folder!r} cannot be written ({existing!r} is not a writable folder); "
                          "give another --out DIR")


def _data(shot, job_file: str, proxies: dict, size, fps: float, view: str) -> dict:
    from .metrics import metrics_for

    def entry(v):
        return {"key": v.key, "kind": v.kind, "title": v.title, "pattern": v.pattern,
                "job": os.path.abspath(v.job_file) if v.job_file else None,
                "labels": v.labels, "frames": {str(f): p for f, p in proxies[v.key].items()},
                "metrics": metrics_for(v.pattern) if v.kind != "plate" else None}

    ident = hashlib.sha1(f"{os.path.realpath(job_file)}\n{shot.plate.pattern}".encode()).hexdigest()[:16]
    name = os.path.basename(shot.plate.pattern)
    return {"schema": "recast.review/1", "id": ident, "title": f"Recast review — {name}",
            "job": os.path.abspath(job_file), "plate": shot.plate.pattern, "frames": shot.frames,
            "shot": list(shot.shot_range),
            "size": list(size), "fps": fps, "view": view,
            "versions": [entry(shot.plate)] + [entry(v) for v in shot.versions],
            "matte": {"frames": {str(f): p for f, p in proxies["matte"].items()}} if shot.matte else None}


def _publish(tmp: str, folder: str) -> None:
    """``tmp`` renamed to ``folder``; an earlier review there is moved aside first, then removed."""
    old = None
    if os.path.isdir(folder):
        old = tempfile.mkdtemp(prefix=".recast_review.old.", dir=os.path.dirname(folder))
        os.rename(folder, os.path.join(old, "review"))
    try:
        os.rename(tmp, folder)
    except OSError:
        if old is not None:  # put the earlier review back
            os.rename(os.path.join(old, "review"), folder)
            shutil.rmtree(old, ignore_errors=True)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def build_review(job_file: str, compare=(), out: str | None = None, view: str | None = None, reporter=None,
                 cancel=None, long_side: int | None = None, threads: int | None = None, exact: bool = False) -> str:
    """Write the review of ``job_file`` (and the jobs in ``compare``); returns the path of its ``index.html``.
    ``exact``: every proxy through the exact display transform, not its baked lookup (slower)."""
    from ..job import load_job
    from .display_lut import bake
    from .labels import frame_rate
    from .page import write_page
    from .proxies import PROXY_SIZE, check_view, default_view, proxy_size, write_proxies
    from .versions import collect

    # 1. what the review shows
    job = load_job(job_file)
    shot = collect(job, job_file, list(compare))
    # 2. how, and where
    view = view or default_view()
    check_view(view)
    folder = os.path.abspath(out or os.path.join(shot.out_folder, REVIEW_FOLDER))
    check_destination(folder)
    first = next(iter(shot.plate.frames.values()))
    size, fps = proxy_size(first, long_side or PROXY_SIZE), frame_rate(first)
    if reporter is not None:  # checked: the review starts
        reporter.start(frames=f"{shot.frames[0]}-{shot.frames[-1]}", versions=len(shot.versions) + 1, folder=folder)
    # 3. written aside
    from ..io.atomic import shared_mode

    parent = os.path.dirname(folder)
    try:
        os.makedirs(parent, exist_ok=True)
        tmp = tempfile.mkdtemp(prefix=".recast_review.", dir=parent)
    except OSError as exc:
        raise RecastError(f"review folder {folder!r} cannot be written: {exc.strerror}; give another --out DIR") from None
    try:
        with tempfile.TemporaryDirectory(prefix="recast_review_lut.") as luts:
            lookup = None if exact else bake(view, luts)
            proxies = write_proxies(shot, tmp, size, view, reporter, cancel, threads, lookup)
        write_page(tmp, _data(shot, job_file, proxies, size, fps, view))
        os.chmod(tmp, shared_mode(directory=True))  # mkdtemp makes it 0700; a review is read by the team
        # 4. published
        _publish(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return os.path.join(folder, "index.html")
