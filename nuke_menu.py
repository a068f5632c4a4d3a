"""Recast in Nuke's GUI: the Nodes toolbar entry and the render queue panel.

Imported by ``nuke_path/menu.py``, which Nuke runs in the GUI only (``nuke_path/init.py``
makes ``recast`` importable, also on render nodes).
"""

import nuke

PANEL = "__import__('recast.plugin.queue_panel', fromlist=['QueuePanel']).QueuePanel"


def setup():
    toolbar = nuke.menu("Nodes").addMenu("Recast", tooltip="Recast: edit a shot's look by prompt, keep its structure")
    toolbar.addCommand("Recast", "import recast.plugin.nuke_node; recast.plugin.nuke_node.create()",
                       tooltip="a Recast node on the selected plate")
    toolbar.addCommand("RecastMatte", "import recast.plugin.nuke_matte; recast.plugin.nuke_matte.create()",
                       tooltip="a soft matte of the selected plate from a few clicks (SAM 2.1 video)")
    import nukescripts.panels

    nukescripts.panels.registerWidgetAsPanel(PANEL, "Recast renders", "uk.recast.queue")
