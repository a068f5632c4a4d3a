"""What the server's runner does with one request: the render (or the variants) it asks for, through the model
stack kept between requests (:class:`Loaders`), errors as protocol events and the CLI's exit code."""

from __future__ import annotations

import os

from ..errors import Cancelled, RecastError, exit_code

__all__ = ["Loaders", "check_request", "run_request"]


class Loaders:
    """The model stack kept between renders: one preset/device/precision in memory at a time."""

    def __init__(self):
        self._key, self._loader = None, None

    def for_job(self, job):
        from ..models.loader import loader_for

        key = (job.model, job.root if os.sep in job.model else "", job.device, job.precision)
        if key != self._key:
            self._key, self._loader = None, None  # free the old stack before loading another
            self._loader, self._key = loader_for(job), key
        return self._loader

    def describe(self) -> dict | None:
        """The stack kept loaded (what ``desk status`` shows), or None."""
        if self._key is None:
            return None
        return {"model": self._key[0], "device": self._key[2], "precision": self._key[3]}


def check_request(request: dict) -> None:
    """The shape of a render or variants request (RecastError, one line), before it is queued."""
    if request.get("kind") == "variants":
        items = request.get("variants")
        if not isinstance(items, list) or not items or not all(isinstance(i, dict) for i in items):
            raise RecastError("bad request to the Recast server: 'variants' must list the variants as objects")
    elif request.get("kind", "render") != "render":
        raise RecastError(f"bad request to the Recast server: unknown kind {request.get('kind')!r}")
    else:
        _fields(request)


def _fields(request: dict) -> tuple:
    """The render's fields, checked: a request that passed the token may still be malformed."""
    job, root = request.get("job"), request.get("root")
    if not isinstance(job, dict):
        raise RecastError("bad request to the Recast server: 'job' must be a JSON object")
    if not isinstance(root, str):
        raise RecastError("bad request to the Recast server: 'root' must be a folder path")
    for key in ("frames", "chunk", "chunk_set"):
        if request.get(key) is not None and not isinstance(request[key], str):
            raise RecastError(f"bad request to the Recast server: {key!r} must be text or null")
    return job, root


def run_request(request: dict, loaders: Loaders, reporter, cancel) -> int:
    """One render (or one set of variants) asked for by a client; the exit code the CLI would give
    (:func:`~recast.core.errors.exit_code`; errors as protocol events)."""
    from ..io.frames import FrameRange
    from ..job import Job
    from ..pipeline.render import render

    try:
        cancel.check("before the render began")  # its client left while another render ran
        if request.get("kind") == "variants":
            from ..pipeline.variants import render_variants_request

            render_variants_request(request, loaders.for_job, reporter, cancel)
            return exit_code(None)
        job_data, root = _fields(request)
        job = Job.from_dict(job_data, root)
        frames = FrameRange.parse(request["frames"]) if request.get("frames") else None
        chunk = FrameRange.parse(request["chunk"]) if request.get("chunk") else None
        render(job, frames, reporter, cancel, loader=loaders.for_job(job), chunk=chunk,
               chunk_set=request.get("chunk_set") or "default", context=True,
               previews=bool(request.get("previews")))
        return exit_code(None)
    except Cancelled as exc:
        reporter.error(str(exc), kind="Cancelled", cancelled=True)
        return exit_code(exc)
    except RecastError as exc:
        reporter.error(" ".join(str(exc).split()), kind=type(exc).__name__)
        return exit_code(exc)
    except (KeyError, TypeError, RecursionError) as exc:
        reporter.error(f"bad request to the Recast server: {type(exc).__name__}: {exc}", kind="RecastError")
        return exit_code(RecastError(str(exc)))  # the request's fault, as a bad job file is
