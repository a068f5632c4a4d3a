"""The ``recast`` command line: parse arguments, call one command's ``run``, report.

Exit codes (:func:`recast.core.errors.exit_code`, shared with ``recast serve``): 0 done; 1 a known
error (one line on stderr, and an ``error`` event on stdout for commands that speak the progress
protocol); 2 bad arguments; 3 an internal error (a bug: the traceback goes to stderr); 128+N when
stopped by signal N (130 for SIGINT, 143 for SIGTERM) after the frame being written; 141 (SIGPIPE's) and
not a word when the reader of stdout went away (``recast info … | head``), as Unix tools do.
"""

from __future__ import annotations

import errno
import importlib
import io
import logging
import os
import sys
import time
import traceback

from ..errors import EXIT_ERROR, EXIT_INTERNAL, Cancelled, RecastError, exit_code
from .parser import COMMANDS, build_parser

__all__ = ["main"]

LOGGER = logging.getLogger("recast")

_SPEAKS_PROTOCOL = {"render", "assemble", "depth", "demo", "customize", "matte", "variants", "desk", "review", "cut"}

#: what a module missing from this Python means: the extra that brings it
_EXTRAS = {"torch": "render", "diffusers": "render", "transformers": "render", "safetensors": "render",
           "huggingface_hub": "render", "accelerate": "render", "OpenImageIO": "render", "numpy": "render",
           "cv2": "eval", "matplotlib": "eval", "openjd": "farm", "outline": "farm", "opentimelineio": "cut", "tomllib": None}


def _missing(module: str) -> str:
    """One line for a worker command run in a Python that lacks what it needs."""
    if _EXTRAS[module] is None:
        return (f"the Recast worker needs Python 3.11 or newer (this is {sys.version.split()[0]}); hosts on "
                "older Pythons start a worker from a 3.11 environment (RECAST_WORKER)")
    return (f"{module!r} is not installed in this Python: this is Recast's light host-side install; for the worker "
            f"run pip install 'recast[{_EXTRAS[module]}]' (torch first on a GPU machine)")


def _quiet_libraries() -> None:
    """stdout carries the protocol and stderr the artist's messages: keep library chatter out of both."""
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("DIFFUSERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
    # the variables are read at import: a process that imported the libraries already (a test, a
    # long-lived service) quiets them through their own switches
    if "transformers" in sys.modules:
        sys.modules["transformers"].utils.logging.disable_progress_bar()
    if "huggingface_hub" in sys.modules:
        sys.modules["huggingface_hub"].utils.disable_progress_bars()


def _reporter(args):
    """JSON lines for hosts and farm wrappers (``--json``, or stdout is not a terminal); a person at a
    terminal gets one progress display and no JSON. Never both on one screen."""
    from ..progress import Display, Reporter

    def quiet():
        return Reporter(stream=open(os.devnull, "w"))

    if args.command == "models" and args.action == "pull" and args.json:
        return Reporter()  # a host fetching in the background
    if args.command not in _SPEAKS_PROTOCOL:
        return quiet()  # these commands print their own output
    if getattr(args, "json", False):
        return Reporter()
    if args.command == "demo":  # a person's command: its summary goes to stdout, JSON only when asked for
        return Display("demo") if sys.stderr.isatty() else quiet()
    return Display(args.command) if sys.stdout.isatty() else Reporter()


def _log_start(args, argv) -> str | None:
    """The worker's commands log to a rotating file (:mod:`recast.core.progress.logs`); returns its path."""
    from ..errors import RecastError as _Known

    if args.command not in _SPEAKS_PROTOCOL | {"eval"}:
        return None
    try:
        from ..progress.logs import log_to, worker_log_path

        path = log_to(worker_log_path())
    except (_Known, ImportError, OSError):  # e.g. RECAST_CACHE names a file: the command itself says so; a log
        return None  # must never stop a command
    LOGGER.info("recast %s started: %s", args.command, " ".join(sys.argv[1:] if argv is None else map(str, argv)))
    return path


#: the exit code of a command whose reader went away (``recast info … | head``): what a Unix tool killed by
#: SIGPIPE gives, and the shell says nothing about it
EXIT_PIPE = 128 + 13


def _stdout_gone() -> bool:
    """True when stdout is a pipe whose reader has closed it (a BrokenPipeError from elsewhere, e.g. a socket,
    is a real error)."""
    try:
        import select

        fd = sys.stdout.fileno()
        poller = select.poll()
        poller.register(fd, select.POLLOUT)
        return any(ev & select.POLLERR for _, ev in poller.poll(0))
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        return True  # no file descriptor to ask (a test's stream, an odd OS): the pipe error was stdout's


def _quiet_exit() -> int:
    """The reader of stdout went away: stop quietly, as Unix tools do. stdout is pointed at /dev/null so
    that the interpreter's own flush at exit does not complain about the pipe once more."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        pass
    LOGGER.info("stdout was closed by its reader: stopped")
    return EXIT_PIPE


# file-system errors of a path the user gave (--out inside a file, a read-only or full disk): one line, not a bug
_USER_FS_ERRORS = {errno.ENOTDIR, errno.EEXIST, errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC, errno.EDQUOT,
                   errno.EISDIR}


def main(argv=None) -> int:
    from .. import __version__

    args = build_parser(__version__).parse_args(argv)
    _quiet_libraries()
    from ..progress import CancelFlag, signals_cancel

    reporter = _reporter(args)
    cancel = CancelFlag()
    command = importlib.import_module(f"{__package__}.{COMMANDS[args.command]}")
    log = _log_start(args, argv)
    started = time.monotonic()
    code = EXIT_INTERNAL
    try:
        with signals_cancel(cancel):
            code = command.run(args, reporter, cancel)
            sys.stdout.flush()  # a closed pipe says so here, not in the interpreter's flush at exit
            return code
    except Cancelled as exc:
        reporter.error(str(exc), kind="Cancelled", cancelled=True)
        print(f"recast: {exc}", file=sys.stderr)
        code = exit_code(exc)
        return code
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] not in _EXTRAS:
            raise
        message = _missing(exc.name.split(".")[0])
        reporter.error(message, kind="RecastError")
        print(f"recast: error: {message}", file=sys.stderr)
        code = EXIT_ERROR
        return code
    except BrokenPipeError as exc:
        if _stdout_gone():
            code = _quiet_exit()
            return code
        code = _internal(exc, log, reporter)
        return code
    except RecastError as exc:
        message = " ".join(str(exc).split())
        reporter.error(message, kind=type(exc).__name__)
        print(f"recast: error: {message}", file=sys.stderr)
        LOGGER.info("error: %s", message)
        code = exit_code(exc)
        return code
    except OSError as exc:
        if exc.errno not in _USER_FS_ERRORS or not exc.filename:
            code = _internal(exc, log, reporter)
            return code
        # a folder the user named that cannot be written (a file in its path, read-only, full): not a bug
        message = f"cannot write {exc.filename!r}: {exc.strerror}; give a folder that can be written"
        reporter.error(message, kind="RecastError")
        print(f"recast: error: {message}", file=sys.stderr)
        LOGGER.info("error: %s", message)
        code = EXIT_ERROR
        return code
    except Exception as exc:  # a bug: say so in one line, keep the traceback for the report
        code = _internal(exc, log, reporter)
        return code
    finally:
        LOGGER.info("recast %s ended: exit %s after %.1f s", args.command, code, time.monotonic() - started)


def _internal(exc: Exception, log: str | None, reporter) -> int:
    """A bug: one line saying so, the traceback for the report."""
    where = f"the log {log}" if log else "the traceback above"
    message = f"internal error ({type(exc).__name__}: {exc}); please report it with {where}"
    traceback.print_exc()
    LOGGER.exception("internal error")
    try:
        reporter.error(" ".join(message.split()), kind="InternalError")
    except BrokenPipeError:  # the host reading the events went away: the line on stderr still says it
        pass
    print(f"recast: {message}", file=sys.stderr)
    return exit_code(exc)


if __name__ == "__main__":
    sys.exit(main())
