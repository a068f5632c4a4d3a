"""Recast's exceptions: one base class, flat subclasses.

Every message says what was wrong and what to do about it, in one line, so the
CLI and the hosts can show it to an artist as it is. :func:`exit_code` is the one mapping from how a
command ended to its exit code, for the CLI and for a render in ``recast serve`` alike.
"""

from __future__ import annotations

__all__ = [
    "RecastError",
    "JobError",
    "SequenceError",
    "ImageError",
    "ColourError",
    "OutputError",
    "ModelError",
    "ResourceError",
    "TimelineError",
    "Cancelled",
    "EXIT_OK",
    "EXIT_ERROR",
    "EXIT_USAGE",
    "EXIT_INTERNAL",
    "exit_code",
    "signal_exit_code",
]

EXIT_OK = 0  #: done
EXIT_ERROR = 1  #: a known error (a RecastError): one line on stderr, an ``error`` event on stdout
EXIT_USAGE = 2  #: bad arguments (argparse's own)
EXIT_INTERNAL = 3  #: a bug: the traceback goes to stderr


def signal_exit_code(signum: int | None) -> int:
    """128 + N when stopped by signal N (130 SIGINT, 143 SIGTERM); a cancel without a signal (a host's) as SIGINT."""
    return 128 + (signum or 2)  # 2: SIGINT on every OS (signal.SIGINT, without importing signal here)


def exit_code(exc: BaseException | None) -> int:
    """The exit code of a command (or a server's render) that ended with ``exc`` (None: done)."""
    if exc is None:
        return EXIT_OK
    if isinstance(exc, Cancelled):
        return signal_exit_code(exc.signum)
    if isinstance(exc, RecastError):
        return EXIT_ERROR
    return EXIT_INTERNAL


class RecastError(Exception):
    """Base of every error Recast raises on purpose."""


class JobError(RecastError):
    """A job file, or a value in it, is invalid."""


class SequenceError(RecastError):
    """A frame pattern or range is invalid, or frames are missing or mismatched."""


class ImageError(RecastError):
    """An image file cannot be read or does not hold what is needed."""


class ColourError(RecastError):
    """A colour space is unknown, or a conversion failed."""


class OutputError(RecastError):
    """An output location cannot be written."""


class ModelError(RecastError):
    """A model preset or a model part is missing, unsafe or cannot be loaded."""


class ResourceError(RecastError):
    """The machine cannot hold what a job needs (memory), found before anything runs."""


class DeviceError(RecastError):
    """A device worker of a render on several devices (job ``devices``) failed or stopped."""


class TimelineError(RecastError):
    """An editorial timeline (``recast cut``) cannot be read, or does not hold what the cut needs."""


class Cancelled(RecastError):
    """The render was stopped by the user (SIGINT/SIGTERM or a host's cancel)."""

    def __init__(self, message: str, signum: int | None = None):
        super().__init__(message)
        self.signum = signum
