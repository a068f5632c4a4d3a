"""Fake of Nuke's ``nukescripts`` package: only ``panels`` is used by Recast."""

from . import panels  # noqa: F401
