"""The ``recast`` command line: parse arguments, call one command's ``run``, report.

Exit codes: 0 done; 1 a known error (one line on stderr, and an ``error`` event on stdout
for commands that speak the progress protocol); 2 bad arguments; 3 an internal error (a
bug: the traceback goes to stderr); 128+N when stopped by signal N (130 for SIGINT, 143
for SIGTERM) after the frame being written.
"""

from __future__ import annotations

import importlib
import os
import sys
import traceback

from ..errors import Cancelled, RecastError
from .parser import COMMANDS, build_parser

__all__ = ["main"]

_SPEAKS_PROTOCOL = {"render", "assemble", "depth", "demo"}


def _quiet_libraries() -> None:
    """stdout carries the protocol and stderr the artist's messages: keep library chatter out of both."""
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("DIFFUSERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")


def main(argv=None) -> int:
    from .. import __version__

    args = build_parser(__version__).parse_args(argv)
    _quiet_libraries()
    from ..progress import CancelFlag, Reporter, signals_cancel

    protocol = args.command in _SPEAKS_PROTOCOL and not (args.command == "demo" and not args.json)
    reporter = Reporter() if protocol else Reporter(stream=open(os.devnull, "w"), bar=sys.stderr.isatty())
    cancel = CancelFlag()
    command = importlib.import_module(f"{__package__}.{COMMANDS[args.command]}")
    try:
        with signals_cancel(cancel):
            return command.run(args, reporter, cancel)
    except Cancelled as exc:
        reporter.error(str(exc), kind="Cancelled", cancelled=True)
        print(f"recast: {exc}", file=sys.stderr)
        return 128 + (exc.signum or 2)
    except RecastError as exc:
        message = " ".join(str(exc).split())
        reporter.error(message, kind=type(exc).__name__)
        print(f"recast: error: {message}", file=sys.stderr)
        return 1
    except Exception as exc:  # a bug: say so in one line, keep the traceback for the report
        message = f"internal error ({type(exc).__name__}: {exc}); please report it with the traceback above"
        traceback.print_exc()
        reporter.error(" ".join(message.split()), kind="InternalError")
        print(f"recast: {message}", file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())
