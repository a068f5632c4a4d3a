# Recast for Nuke: put this folder on NUKE_PATH (or nuke.pluginAddPath it from a studio init.py).
# Runs in the GUI and on render nodes (nuke -t): makes Recast importable, creates no UI.
# A failure here is logged and never stops Nuke from starting.
def _recast_init():
    import logging
    import os
    import sys
    import types

    try:
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        if root not in sys.path:
            sys.path.append(root)  # for nuke_menu.py
        try:
            import recast.plugin  # noqa: F401  (installed into Nuke's Python)
        except ImportError:  # a checkout: core/ and plugin/ become recast.core and recast.plugin
            package = types.ModuleType("recast")
            package.__path__ = [root]
            sys.modules["recast"] = package
            import recast.plugin.nuke_node  # noqa: F401
    except Exception:
        logging.getLogger("recast").exception("Recast could not be loaded; Nuke goes on without it")


_recast_init()
