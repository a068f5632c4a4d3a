"""``recast variants``: several looks of one shot in one request, each a new version with its own job file."""

from __future__ import annotations

import sys

from .parser import add_json

__all__ = ["add_parser", "run"]


def add_parser(sub) -> None:
    p = sub.add_parser("variants", help="render the grid of several prompts, seeds, references or structure levels "
                                        "of one job, each a new version with the job file that made it")
    p.add_argument("--job", required=True, help="the job file the variants start from")
    for flag, axis, kind, what in (("--prompt", "prompt", str, "a prompt"), ("--seed", "seed", int, "a seed"),
                                   ("--reference", "reference", str, "a reference image"),
                                   ("--structure-level", "structure_level", int, "a structure level")):
        p.add_argument(flag, dest="axes", action="append", type=_axis_value(axis, kind), metavar=kind.__name__.upper(),
                       help=f"{what} to try (repeat it: every combination of the values given is rendered)")
    p.add_argument("--vary", dest="axes", action="append", type=_vary, metavar="AXIS=VALUE",
                   help="a value of any axis (repeat it): prompt, seed, reference, structure_level, negative_prompt, "
                        "reference_weight, structure_weight, strength, guidance_scale, temporal_guidance, steps")
    p.add_argument("--preview", action="store_true", help="preview variants: 256 px, the fast tier, the first "
                                                           "window (or --frames)")
    p.add_argument("--frames", help="only this range of the shot, e.g. 1001-1010")
    p.add_argument("--desk", action="store_true", help="render in your desk service (started on demand)")
    p.add_argument("--live-previews", action="store_true", help="'preview' events while denoising")
    p.add_argument("--no-review", action="store_true", help="do not rebuild the shot's review folder after the "
                                                              "renders (recast review)")
    add_json(p)
    p.add_argument("--control", choices=["stdin"], help="take 'cancel' on stdin (the hosts' cancel)")


def _axis_value(axis: str, kind):
    def parse(text: str):
        import argparse

        try:
            return axis, kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a {kind.__name__}") from None
    return parse


def _vary(text: str):
    """``AXIS=VALUE``, the value typed as the job field it varies (the axis is checked with the grid)."""
    import argparse

    from ..job.table import job_field
    from ..pipeline.variants import AXES

    axis, sep, value = text.partition("=")
    axis = axis.strip().replace("-", "_")
    if not sep:
        raise argparse.ArgumentTypeError(f"{text!r}: give AXIS=VALUE, e.g. seed=7")
    if axis not in AXES:
        return axis, value  # refused by the grid, in one line naming the axes
    kind = job_field(AXES[axis]).kind
    try:
        return axis, kind(value) if kind in (int, float) else value
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: {value!r} is not a {kind.__name__}") from None


def run(args, reporter, cancel) -> int:
    from ..io.frames import FrameRange
    from ..job import load_job
    from ..pipeline.variants import plan_variants, render_variants

    job = load_job(args.job)
    axes: dict[str, list] = {}
    for axis, value in args.axes or ():
        axes.setdefault(axis, []).append(value)
    frames = FrameRange.parse(args.frames) if args.frames else None
    variants = plan_variants(job, axes, preview=args.preview, frames=frames)
    if args.preview:
        frames = None  # the preview jobs hold their frames
    gone = None
    if args.control == "stdin":
        from ..progress import CancelFlag
        from ..progress.cancel import cancel_on_stdin

        gone = CancelFlag() if args.desk else None
        cancel_on_stdin(cancel, gone=gone)
    where = None
    if args.desk:
        from .render import _desk

        where = _desk(reporter)
    if where is not None:
        from ..farm.connection import request_in_server

        body = {"kind": "variants", "preview": args.preview, "previews": args.live_previews, "persist": True,
                "frames": str(frames) if frames else None,
                "variants": [{"version": v["version"], "values": v["values"], "job_file": v["job_file"],
                              "job": v["job"].to_dict(), "root": v["job"].root} for v in variants]}
        code = request_in_server(where, body, reporter, cancel, gone)
    else:
        from ..models.loader import loader_for

        loaders = {}

        def loader(j):
            key = (j.model, j.device, j.precision)
            if key not in loaders:
                loaders.clear()  # one stack in memory at a time
                loaders[key] = loader_for(j)
            return loaders[key]

        render_variants(variants, loader, reporter, cancel, frames=frames, previews=args.live_previews)
        code = 0
    page = _review(args.job, reporter, cancel) if code == 0 and not args.no_review else None
    if code == 0 and not args.json and sys.stdout.isatty():
        reporter.finish()
        for v in variants:
            print(f"v{v['version']:03d}  {v['job_file']}")
        if page:
            print(f"review: {page}  (open it in a browser)")
    return code


def _review(job_file: str, reporter, cancel) -> str | None:
    """The shot's review rebuilt with the new versions (``recast review``), announced by a ``review`` event; a
    review that cannot be written is a warning (the variants are made)."""
    from ..errors import Cancelled, RecastError
    from ..review import build_review

    try:
        page = build_review(job_file, cancel=cancel)
    except Cancelled:
        raise
    except RecastError as exc:
        reporter.warning(f"the variants are rendered, but their review was not written: {exc}")
        return None
    reporter.emit("review", path=page)
    return page
