"""The Deadline 10 plugin folder Recast ships (``recast/plugin/deadline/Recast/``): checked whole, and installed
into a Deadline repository's ``custom/plugins/`` (what ``recast farm deadline --install-plugin`` does)."""

from __future__ import annotations

import os

from ..errors import JobError

__all__ = ["PLUGIN_FILES", "plugin_source", "check_plugin_folder", "install_plugin"]

#: what Deadline needs of a plugin folder named Recast (the icon is optional)
PLUGIN_FILES = ("Recast.dlinit", "Recast.param", "Recast.options", "Recast.py")


def plugin_source() -> str:
    """The shipped plugin folder, found without importing the host package."""
    import importlib.util

    spec = importlib.util.find_spec("recast.plugin")
    return os.path.join(list(spec.submodule_search_locations)[0], "deadline", "Recast")


def check_plugin_folder(folder: str) -> str:
    """``folder`` if it holds every file of the plugin; else JobError naming the first one missing."""
    if not os.path.isdir(folder):
        raise JobError(f"the Deadline plugin folder {folder!r} does not exist; reinstall recast")
    for name in PLUGIN_FILES:
        if not os.path.isfile(os.path.join(folder, name)):
            raise JobError(f"the Deadline plugin folder {folder!r} lacks {name}: Deadline would not load it; "
                           "reinstall recast (or copy the whole Recast folder again)")
    return folder


def install_plugin(plugins_dir: str, source: str | None = None) -> str:
    """Copy the plugin folder into ``plugins_dir`` (a repository's ``custom/plugins``) as ``Recast/``; a complete
    copy or none (written beside, then renamed over the old one). Returns the installed folder."""
    import shutil
    import uuid

    source = check_plugin_folder(source or plugin_source())
    if not os.path.isdir(plugins_dir):
        raise JobError(f"--install-plugin {plugins_dir!r} is not a folder; give the Deadline repository's "
                       "custom/plugins folder")
    dest = os.path.join(os.path.abspath(plugins_dir), "Recast")
    tmp, old = f"{dest}.{uuid.uuid4().hex[:8]}.tmp", f"{dest}.{uuid.uuid4().hex[:8]}.old"
    try:
        shutil.copytree(source, tmp, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        if os.path.isdir(dest):
            os.rename(dest, old)
        os.rename(tmp, dest)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise JobError(f"cannot install the Deadline plugin into {plugins_dir!r}: {exc.strerror or exc}") from None
    shutil.rmtree(old, ignore_errors=True)
    return dest
