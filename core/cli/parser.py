"""The ``recast`` argument parser: one sub-command per module of this package, each adding its own."""

from __future__ import annotations

import argparse

__all__ = ["COMMANDS", "build_parser", "add_job_file", "add_json", "add_job_flags", "job_overrides"]

#: command → module of this package defining ``add_parser(sub)`` and ``run(args, reporter, cancel)``
COMMANDS = {"render": "render", "serve": "serve", "farm": "farm", "eval": "eval", "assemble": "assemble",
            "depth": "depth", "models": "models", "info": "info", "demo": "demo", "customize": "customize",
            "matte": "matte", "desk": "desk", "variants": "variants", "review": "review", "cut": "cut"}


def add_job_file(parser, required: bool = True) -> None:
    """``--job FILE``, whose fields the job-field flags (:func:`add_job_flags`) override."""
    parser.add_argument("--job", required=required, help="job file (JSON); the job-field flags below override its "
                                                         "fields (the farm passes mapped paths this way)")


def add_json(parser) -> None:
    """``--json``: the progress protocol on stdout, for hosts and farm wrappers."""
    parser.add_argument("--json", action="store_true", help="progress as JSON lines on stdout (what hosts read; the "
                                                           "default when stdout is not a terminal)")


def add_job_flags(parser) -> None:
    """A flag per job field (from the job schema's table), documented with its doc, range and default."""
    from ..job import JOB_FIELDS

    grp = parser.add_argument_group("job fields (build a job without a file, or override one)")
    for info in JOB_FIELDS:
        kind, metavar = info.kind, info.kind.__name__.upper()
        if kind is list:  # a list field on the command line: comma-separated
            kind, metavar = (lambda text: [x.strip() for x in text.split(",") if x.strip()]), "A,B"
        elif kind is bool:
            kind, metavar = _truth, "true|false"
        grp.add_argument("--" + info.flag.replace("_", "-"), dest=info.flag, type=kind, default=None,
                         metavar=metavar, help=f"job '{info.path}': {info.describe()}")


def _truth(text: str) -> bool:
    """A boolean job field on the command line."""
    import argparse

    value = {"true": True, "1": True, "yes": True, "on": True, "false": False, "0": False, "no": False,
             "off": False}.get(text.strip().lower())
    if value is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not true or false")
    return value


def job_overrides(args) -> dict:
    """The job fields given as flags: path → value."""
    from ..job import JOB_FIELDS

    return {info.path: getattr(args, info.flag) for info in JOB_FIELDS if getattr(args, info.flag) is not None}


def build_parser(version: str) -> argparse.ArgumentParser:
    import importlib

    parser = argparse.ArgumentParser(
        prog="recast", description="Edit a shot's content by prompt or reference image, keeping its structure.")
    parser.add_argument("--version", action="version", version=f"recast {version}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMANDS.values():
        importlib.import_module(f"{__package__}.{module}").add_parser(sub)
    return parser
