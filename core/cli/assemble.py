"""``recast assemble``: write the seam frames of a chunked (farm) render."""

from __future__ import annotations

from .parser import add_job_file, add_job_flags, add_json
from .render import job_from_args

__all__ = ["add_parser", "run"]


def add_parser(sub) -> None:
    p = sub.add_parser("assemble", help="write the seam frames of a chunked render (cross-fades between chunks)")
    add_job_file(p)
    add_json(p)
    p.add_argument("--chunk-set", default="default", metavar="NAME", help="the submission whose chunks to assemble")
    add_job_flags(p)


def run(args, reporter, cancel) -> int:
    from ..farm.chunks import assemble

    assemble(job_from_args(args), args.chunk_set, reporter, cancel)
    return 0
