"""File stamps: what tells a file rewritten since a render read it (resume, the matte's and depth's caches)."""

from __future__ import annotations

import os

__all__ = ["file_stamp"]


def file_stamp(path: str) -> str:
    """Size and modification time of a file: changes whenever the file is rewritten."""
    st = os.stat(path)
    return f"{st.st_size}:{st.st_mtime_ns}"
