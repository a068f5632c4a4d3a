"""Qt for the panels: PySide6 (Nuke 16, Blender add-ons, tests) or PySide2 (Nuke 14 and 15).

Only the names both bindings share are used by Recast's widgets.
"""

try:
    from PySide6 import QtCore, QtGui, QtWidgets
except ImportError:  # Nuke 14 and 15 ship PySide2 only
    from PySide2 import QtCore, QtGui, QtWidgets

__all__ = ["QtCore", "QtGui", "QtWidgets"]
