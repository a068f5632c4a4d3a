"""``recast matte``: a soft matte sequence from clicks and boxes on a few frames (SAM 2.1 video)."""

from __future__ import annotations

import argparse
import os

from ..job.sections import SAM_SIZES
from .parser import add_json

__all__ = ["add_parser", "run", "request_from_args"]


class _Prompt(argparse.Action):
    """--object, --points and --box kept in the order given: an object owns the prompts after it."""

    def __call__(self, parser, namespace, values, option_string=None):
        items = list(getattr(namespace, "prompts", None) or [])
        items.append((self.dest, values))
        namespace.prompts = items


def add_parser(sub) -> None:
    p = sub.add_parser("matte", help="make a soft matte sequence from a few clicks (SAM 2.1 video)",
                       description="Clicks and boxes are display-window pixels from the top-left corner, as in the "
                                   "file. One object: channel A; several (--object NAME before each one's prompts): "
                                   "matte.<name> each and A their union.")
    p.add_argument("--input", metavar="PLATE", help="the plate's frame pattern, e.g. 'plate/sh010.####.exr'")
    p.add_argument("--frames", metavar="A-B", help="frame range (default: every frame on disk)")
    p.add_argument("--points", dest="points", action=_Prompt, metavar="F:X,Y[,+|-]",
                   help="clicks on frame F ('+' on the object, the default; '-' not on it); several in one value "
                        "separated by spaces or ';', or the flag repeated")
    p.add_argument("--box", dest="box", action=_Prompt, metavar="F:X0,Y0,X1,Y1",
                   help="a box round the object on frame F (one per object and frame)")
    p.add_argument("--object", dest="object", action=_Prompt, metavar="NAME",
                   help="the prompts after it belong to object NAME (its channel is matte.NAME)")
    p.add_argument("--output", metavar="PATTERN", help="the matte's frame pattern (.exr)")
    p.add_argument("--model", default=None, help="model preset with a 'matte' part (default: default)")
    p.add_argument("--matte-size", choices=SAM_SIZES,
                   help="SAM 2.1 size, for a preset whose matte part is a public SAM 2.1 checkpoint")
    p.add_argument("--device", default=None, help="'auto', 'cpu', 'cuda[:N]' or 'mps' (default auto)")
    p.add_argument("--precision", default=None, choices=["auto", "fp32", "fp16", "bf16"])
    p.add_argument("--colorspace", default=None, help="the plate's colour space (default: the file's)")
    p.add_argument("--part", default=None, help="a multi-part plate's part to matte (default: the first with colour)")
    p.add_argument("--model-view", default=None, help="how the scene-linear plate is shown to the model, as in a "
                                                      "render (default filmic)")
    p.add_argument("--job", help="make the matte the job file's 'matte' section asks for (its plate, range, model); "
                                 "the flags above override it")
    p.add_argument("--job-output", metavar="PATTERN", help="with --job: the job's output pattern (the matte goes to "
                                                           "matte/matte.####.exr in its folder unless the job says)")
    p.add_argument("--checkpoint-every", type=float, default=30.0, metavar="SECONDS",
                   help="save the tracking state this often (and on a cancel); a rerun continues from it (default 30)")
    add_json(p)
    p.add_argument("--control", choices=["stdin"], help="take control messages on stdin ('cancel')")


def request_from_args(args):
    """The :class:`~recast.core.matte.run.MatteRequest` of the flags, over the job's when ``--job`` is given."""
    from ..errors import JobError
    from ..job.prompts import group_prompts, objects_from_data
    from ..matte.run import MatteRequest

    given = {"input": args.input and os.path.abspath(args.input), "output": args.output and
             os.path.abspath(args.output), "frames": args.frames, "model": args.model, "size": args.matte_size,
             "device": args.device, "precision": args.precision, "colorspace": args.colorspace, "part": args.part,
             "model_view": args.model_view}
    objects = group_prompts(getattr(args, "prompts", None) or [])
    base: dict = {"root": os.getcwd()}
    if args.job:
        from ..job import load_job

        job = load_job(args.job)
        if args.job_output:
            job = job.replace(output={"pattern": os.path.abspath(args.job_output)})
        if job.matte is None and not objects:
            raise JobError(f"job file {args.job!r} has no 'matte' section and no --points or --box was given: "
                           "nothing to matte")
        base.update(input=job.path(job.input.pattern), frames=job.input.frames, colorspace=job.input.colorspace,
                    part=job.input.part, model=job.model, device=job.device, precision=job.precision,
                    model_view=job.model_view, root=job.root)
        if job.matte is not None:
            base.update(output=job.matte_output, size=job.matte.size)
            objects = objects or objects_from_data(job.matte.objects)
    elif args.job_output:
        raise JobError("--job-output goes with --job")
    values = {**base, **{k: v for k, v in given.items() if v is not None}}
    for flag, key in (("--input", "input"), ("--output", "output")):
        if not values.get(key):
            raise JobError(f"give {flag} (or --job FILE with a 'matte' section)")
    if args.checkpoint_every <= 0:
        raise JobError(f"--checkpoint-every {args.checkpoint_every:g}: expected more than 0 seconds")
    return MatteRequest(objects=tuple(objects), **values)


def run(args, reporter, cancel) -> int:
    from ..matte.run import run_matte

    request = request_from_args(args)
    if args.control == "stdin":
        from ..progress.cancel import cancel_on_stdin

        cancel_on_stdin(cancel)
    run_matte(request, reporter, cancel, checkpoint_seconds=args.checkpoint_every)
    return 0
