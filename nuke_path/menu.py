# Recast for Nuke (GUI only): the Nodes toolbar entry and the render queue panel.
try:
    import nuke_menu
    nuke_menu.setup()
except Exception:
    import logging
    logging.getLogger("recast").exception("Recast's menu could not be added; Nuke goes on without it")
