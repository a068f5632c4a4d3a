"""``recast models list|check|pull``: the model parts of a preset."""

from __future__ import annotations

import json
import os
import sys

from ..job.sections import SAM_SIZES

__all__ = ["add_parser", "run"]


def add_parser(sub) -> None:
    p = sub.add_parser("models", help="list, check or fetch the model parts of a preset")
    p.add_argument("action", choices=["list", "check", "pull"],
                   help="list: presets and their parts; check: what is present/missing; pull: download")
    from ..models.presets import builtin_names

    p.add_argument("--model", default=None,
                   help=f"preset: a built-in one ({', '.join(builtin_names())}) or a preset file (default: default; "
                        "'list' without --model lists every built-in preset)")
    p.add_argument("--matte-size", choices=SAM_SIZES,
                   help="the SAM 2.1 size 'recast matte --matte-size' uses (default: the preset's)")
    p.add_argument("--json", action="store_true", help="print JSON (pull: progress as JSON lines, what hosts read)")
    p.add_argument("--control", choices=["stdin"], help="pull: take control messages on stdin ('cancel'; the pipe "
                                                         "closing cancels too): how hosts cancel a fetch")


def run(args, reporter, cancel) -> int:
    from ..models.parts import check_preset
    from ..models.presets import PARTS, builtin_presets, load_preset, with_matte_size

    if args.action == "list" and args.model is None:  # every built-in preset: name, backend, what it is for
        presets = builtin_presets()
        if args.json:
            print(json.dumps({"presets": presets}, indent=2))
        else:
            width = max(len(p["name"]) for p in presets)
            print("built-in presets ('recast models list --model NAME' lists a preset's parts):")
            for p in presets:
                print(f"  {p['name']:<{width}}  {p['backend']:<11} {p['description']}")
        return 0
    args.model = args.model or "default"
    preset = with_matte_size(load_preset(args.model, os.getcwd()), args.matte_size)
    if args.action == "pull":
        return _pull(args, preset, reporter, cancel)
    if args.action == "list":
        rows = [{"role": r, "purpose": PARTS[r], "source": preset.parts[r].describe() if r in preset.parts else None}
                for r in PARTS]
        if args.json:
            print(json.dumps({"preset": preset.name, "file": preset.path, "backend": preset.backend, "parts": rows},
                             indent=2))
        else:
            print(f"preset {preset.name}  ({preset.path}; backend {preset.backend})")
            for row in rows:
                print(f"  {row['role']:<15} {row['source'] or '-':<60} {row['purpose']}")
        return 0
    status = check_preset(preset)
    if args.json:
        print(json.dumps({"preset": preset.name, "parts": [s.__dict__ for s in status]}, indent=2))
    else:
        print(f"preset {preset.name}  ({preset.path})")
        for s in status:
            state = f"ok  {s.size / 1e6:9.1f} MB  {s.path}" if s.present else f"MISSING  {s.problem}"
            print(f"  {s.role:<15} {state}")
    missing = [s for s in status if not s.present]
    if missing:
        pullable = [s.role for s in missing if s.fetchable]
        advice = [f"'recast models pull --model {args.model}' fetches {', '.join(pullable)} where a network exists"
                  ] if pullable else []
        if len(pullable) < len(missing):
            advice.append("fix the others as their lines above say (a local folder, or weights to convert to "
                          "safetensors)")
        print(f"recast: {len(missing)} part(s) missing or unusable: {', '.join(s.role for s in missing)}; "
              f"{'; '.join(advice)}", file=sys.stderr)
        return 1
    return 0


def _pull(args, preset, reporter, cancel) -> int:
    """Fetch what is missing; then say what is present, as ``check`` does. With ``--json`` the progress
    protocol (start, progress stage 'fetch' per part, done) on stdout, for hosts fetching in the background."""
    import time

    from ..models.parts import check_preset, pull_preset

    if args.control == "stdin":
        from ..progress.cancel import cancel_on_stdin

        cancel_on_stdin(cancel)
    started = time.monotonic()
    reporter.start(job=None, preset=preset.name, total=len(preset.parts))

    def progress(done, total, role):
        reporter.progress("fetch", done, total, **({"part": role} if role else {}))

    say = (lambda line: None) if args.json else (lambda line: print(line, file=sys.stderr))
    fetched = pull_preset(preset, report=say, progress=progress, cancel=cancel)
    status = check_preset(preset)
    missing = [s.role for s in status if not s.present]
    if missing:  # e.g. a local folder the pull cannot fill
        from ..errors import ModelError

        raise ModelError(f"after the pull {len(missing)} part(s) are still missing or unusable: {', '.join(missing)}; "
                         f"'recast models check --model {args.model}' says why")
    reporter.done(preset=preset.name, fetched=fetched, parts=len(status), seconds=round(time.monotonic() - started, 2))
    if not args.json:
        print(f"preset {preset.name}: all {len(status)} parts present"
              f"{' (fetched ' + ', '.join(fetched) + ')' if fetched else ''}", file=sys.stderr)
    return 0
