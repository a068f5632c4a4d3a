"""The progress protocol (JSON-lines events a host reads) and cancellation."""

from .cancel import CancelFlag, signals_cancel
from .events import Reporter

__all__ = ["Reporter", "CancelFlag", "signals_cancel"]
