"""``recast customize``: train a LoRA on a few images of a subject or style (Gen-1's customization)."""

from __future__ import annotations

import os
import time

from .parser import add_json

__all__ = ["add_parser", "run"]


def add_parser(sub) -> None:
    p = sub.add_parser("customize", help="train a LoRA on a few images of a subject or style (use it with the job's "
                                         "'loras')")
    p.add_argument("--job", help="train what the job file's 'customize' section says (the LoRA its render then uses); "
                                 "the flags below override it")
    p.add_argument("--output", metavar="PATTERN", help="with --job: the job's output pattern (the LoRA goes to "
                                                       "lora/customize.safetensors in its folder unless the job says)")
    p.add_argument("--images", metavar="DIR_OR_PATTERN",
                   help="a folder of images, a glob pattern ('look/*.png') or a plate's frame pattern (with --frames); "
                        "PNG, JPEG, TIFF, EXR…, any size (centre-cropped to a square, resized to --resolution)")
    p.add_argument("--frames", metavar="A-B", help="with a frame pattern: the frames to train on (default: all)")
    p.add_argument("--out", metavar="NAME.safetensors", help="the LoRA file to write")
    p.add_argument("--token", default=None, help="the identifier the LoRA learns, used in prompts (e.g. 'sks person')")
    p.add_argument("--caption", help="caption of every image (the token is put in front when it lacks it); default: "
                                     "a .txt beside each image, else the token")
    p.add_argument("--steps", type=int, default=None, help="training steps (default 400)")
    p.add_argument("--rank", type=int, default=None, help="LoRA rank (alpha = rank) (default 8)")
    p.add_argument("--lr", type=float, default=None, help="learning rate, constant (default 1e-4)")
    p.add_argument("--resolution", type=int, default=None, help="training size in pixels, square (default 512)")
    p.add_argument("--seed", type=int, default=None, help="seed: the same seed and images train the same LoRA "
                                                          "(default 0)")
    p.add_argument("--model", default=None, help="model preset whose SD 1.5 base is trained (default: default)")
    p.add_argument("--train-text-encoder", action="store_true", default=None,
                   help="train a LoRA on the text encoder too")
    p.add_argument("--class-images", metavar="DIR_OR_PATTERN",
                   help="prior preservation: images of the subject's class (e.g. other people)")
    p.add_argument("--class-prompt", default="", help="prior preservation: their caption (e.g. 'a person')")
    p.add_argument("--prior-weight", type=float, default=1.0, help="prior preservation: weight of their loss")
    p.add_argument("--checkpoint-every", type=int, default=50, metavar="N",
                   help="save a checkpoint every N steps (and on a cancel); a run with the same settings resumes "
                        "from it (default 50)")
    p.add_argument("--device", default=None, help="'auto', 'cpu', 'cuda[:N]' or 'mps' (default auto)")
    p.add_argument("--precision", default=None, choices=["auto", "fp32", "fp16", "bf16"],
                   help="number format of the frozen model (LoRA weights train in fp32) (default auto)")
    p.add_argument("--model-view", default=None, help="how scene-linear images are shown to the model, as in a job "
                                                      "(default filmic)")
    add_json(p)
    p.add_argument("--control", choices=["stdin"], help="take control messages on stdin ('cancel')")


_DEFAULTS = {"token": "sks", "steps": 400, "rank": 8, "lr": 1e-4, "resolution": 512, "seed": 0, "model": "default",
             "train_text_encoder": False, "device": "auto", "precision": "auto", "model_view": "filmic", "frames": None,
             "caption": None}


def _settings(args) -> None:
    """Fill what the flags leave open: from the job's 'customize' section (and its model, device, precision,
    model view and output folder) with ``--job``, else the defaults."""
    from ..errors import JobError

    if args.job:
        from ..job import load_job

        job = load_job(args.job)
        if args.output:
            job = job.replace(output={"pattern": os.path.abspath(args.output)})
        c = job.customize
        if c is None:
            raise JobError(f"job file {args.job!r} has no 'customize' section: nothing to train")
        given = {"images": job.path(c.images), "frames": c.frames, "token": c.token, "caption": c.caption,
                 "steps": c.steps, "rank": c.rank, "lr": c.learning_rate, "resolution": c.resolution, "seed": c.seed,
                 "train_text_encoder": c.train_text_encoder, "out": job.trained_lora, "model": job.model,
                 "device": job.device, "precision": job.precision, "model_view": job.model_view}
        if not os.path.isabs(given["model"]) and given["model"].endswith(".toml"):
            given["model"] = job.path(given["model"])
        if args.images:  # the farm maps the images' folder
            given["images"] = args.images
    else:
        given = dict(_DEFAULTS)
        if not args.images or not args.out:
            raise JobError("give --images and --out (or --job FILE with a 'customize' section)")
    for name, value in given.items():
        if getattr(args, name, None) is None:
            setattr(args, name, value)
    for name, value in _DEFAULTS.items():
        if getattr(args, name, None) is None:
            setattr(args, name, value)


def _check(args):
    """Every argument checked before anything is read or written: one line each."""
    from ..errors import JobError
    from ..job.checks import _device, _model_view

    _settings(args)
    from ..backends import check_customize

    check_customize(args.model, os.getcwd())  # a backend that cannot apply a LoRA: before anything is trained
    problems = [(not args.out.lower().endswith(".safetensors"), f"--out {args.out!r}: give a .safetensors file name"),
                (not 1 <= args.steps <= 100_000, f"--steps {args.steps}: expected 1..100000"),
                (not 1 <= args.rank <= 256, f"--rank {args.rank}: expected 1..256"),
                (not 0 < args.lr <= 0.1, f"--lr {args.lr:g}: expected more than 0 and at most 0.1"),
                (not 64 <= args.resolution <= 2048 or args.resolution % 8,
                 f"--resolution {args.resolution}: expected a multiple of 8 from 64 to 2048"),
                (not 0 <= args.seed < 2**32, f"--seed {args.seed}: expected 0..4294967295"),
                (not args.token.strip(), "--token: give the identifier the LoRA learns, e.g. 'sks person'"),
                (args.checkpoint_every < 0, f"--checkpoint-every {args.checkpoint_every}: expected 0 or more"),
                (bool(args.class_images) and not args.class_prompt.strip(),
                 "--class-images needs --class-prompt (their caption, e.g. 'a person')")]
    for bad, line in problems:
        if bad:
            raise JobError(line)
    for check, value, flag in ((_device, args.device, "--device"), (_model_view, args.model_view, "--model-view")):
        try:
            check(value)
        except ValueError as exc:
            raise JobError(f"{flag} {value!r}: expected {exc}") from None
    folder = os.path.dirname(os.path.abspath(args.out))
    if not os.path.isdir(folder) and args.job:  # the job's own lora folder, in its output folder: made when needed
        try:
            os.makedirs(folder, exist_ok=True)
        except OSError as exc:
            raise JobError(f"the LoRA's folder {folder!r} cannot be created: {exc.strerror}") from None
    existing = folder  # a missing folder is made, as renders make theirs, once the arguments are checked
    while not os.path.exists(existing) and os.path.dirname(existing) != existing:
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        raise JobError(f"--out {args.out!r}: {existing!r} is a file, not a folder")
    if not os.access(existing, os.W_OK):
        raise JobError(f"--out {args.out!r}: folder {existing!r} cannot be written")


def _make_folder(path: str) -> None:
    """The LoRA's folder, made when missing (after every check, so a refused run leaves nothing)."""
    from ..errors import JobError

    folder = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as exc:
        raise JobError(f"the LoRA's folder {folder!r} cannot be created: {exc.strerror}") from None


def run(args, reporter, cancel) -> int:
    from .. import __version__
    from ..customize.images import find_images, load_training_images
    from ..models.lora_file import write_lora
    from ..customize.train import TrainSettings, train_lora
    from ..models.loader import Loader
    from ..models.lora import base_arch
    from ..models.parts import locate
    from ..models.presets import load_preset

    _check(args)
    if args.control == "stdin":
        from ..progress.cancel import cancel_on_stdin

        cancel_on_stdin(cancel)
    started = time.monotonic()
    preset = load_preset(args.model, os.getcwd())
    locate(preset, "base")  # a missing base is one line before any image is read
    paths = find_images(args.images, args.frames)
    images = load_training_images(paths, args.resolution, args.token.strip(), args.caption, args.model_view)
    classes = []
    if args.class_images:
        classes = load_training_images(find_images(args.class_images), args.resolution, args.class_prompt.strip(),
                                       args.class_prompt, args.model_view)
    settings = TrainSettings(token=args.token.strip(), steps=args.steps, rank=args.rank, learning_rate=args.lr,
                             resolution=args.resolution, seed=args.seed, train_text_encoder=args.train_text_encoder,
                             prior_weight=args.prior_weight, class_prompt=args.class_prompt,
                             checkpoint_every=args.checkpoint_every)
    _make_folder(args.out)
    reporter.start(job=None, output=os.path.abspath(args.out), total=args.steps, images=len(images),
                   classes=len(classes), stage="train")
    loader = Loader(preset, args.device, args.precision)
    checkpoint = os.path.abspath(args.out) + ".checkpoint"
    result = train_lora(loader, images, settings, checkpoint, reporter, cancel, classes)
    base = preset.part("base")
    write_lora(args.out, result.unet_state, result.text_state, {
        "recast.version": __version__, "recast.base_model": base.describe(), "recast.base_preset": preset.name,
        "recast.base_arch": base_arch(result.base_cross_width), "recast.token": settings.token,
        "recast.steps": settings.steps, "recast.rank": settings.rank, "recast.alpha": settings.rank,
        "recast.learning_rate": settings.learning_rate, "recast.resolution": settings.resolution,
        "recast.seed": settings.seed, "recast.images": len(images), "recast.text_encoder": settings.train_text_encoder,
        "recast.prior_preservation": bool(classes)})
    import shutil

    shutil.rmtree(checkpoint, ignore_errors=True)  # the LoRA is written: the checkpoint has served
    seconds = round(time.monotonic() - started, 2)
    reporter.done(output=os.path.abspath(args.out), steps=result.steps, resumed_from=result.resumed_from,
                  loss_start=round(result.loss_start, 6), loss_end=round(result.loss_end, 6),
                  seconds_per_step=round(result.seconds_per_step, 4), seconds=seconds)
    return 0
