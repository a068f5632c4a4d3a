"""The progress protocol (JSON-lines events a host reads), what a person at a terminal sees instead,
and cancellation."""

from .cancel import CancelFlag, signals_cancel
from .display import Display
from .events import Reporter

__all__ = ["Reporter", "Display", "CancelFlag", "signals_cancel"]
