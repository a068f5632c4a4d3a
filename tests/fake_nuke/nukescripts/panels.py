"""Fake of ``nukescripts.panels``: ``registerWidgetAsPanel`` records what would become a dockable panel.

In Nuke the ``widget`` argument is a string of Python that names the widget's class; Nuke
evaluates it when the artist opens the panel (Windows > Custom), so the test evaluates it
the same way, with nothing imported beforehand.
"""

import nuke

_registered = {}


def registerWidgetAsPanel(widget, name, id, create=False):
    nuke._main_only("registerWidgetAsPanel")
    if not isinstance(widget, str) or not isinstance(name, str) or not isinstance(id, str):
        raise TypeError("registerWidgetAsPanel(widget: str, name: str, id: str, create=False)")
    nuke.menu("Pane").addCommand(name, lambda: None)
    _registered[id] = (widget, name)
    return None


def fake_registered():
    return dict(_registered)
