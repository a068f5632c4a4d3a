"""``recast assemble``: write the seam frames of a chunked (farm) render."""

from __future__ import annotations

from .parser import add_job_flags
from .render import job_from_args

__all__ = ["add_parser", "run"]


def add_parser(sub) -> None:
    p = sub.add_parser("assemble", help="write the seam frames of a chunked render (cross-fades between chunks)")
    p.add_argument("--job", required=True, help="job file (JSON); the job-field flags below override its fields "
                                                "(the farm passes mapped paths this way)")
    p.add_argument("--json", action="store_true", help="progress as JSON lines on stdout (what hosts read; the "
                                                       "default when stdout is not a terminal)")
    p.add_argument("--chunk-set", default="default", metavar="NAME", help="the submission whose chunks to assemble")
    add_job_flags(p)


def run(args, reporter, cancel) -> int:
    from ..farm.chunks import assemble

    assemble(job_from_args(args), args.chunk_set, reporter, cancel)
    return 0
