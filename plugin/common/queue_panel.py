"""The Recast render queue panel: one row per render with progress, frames, time, Cancel,
open folder and the last error.

A plain Qt widget (PySide6 or PySide2 through :mod:`recast.plugin.common.qt`) that never imports a
host module, so it runs offscreen in tests; Nuke docks it through
``nukescripts.panels.registerWidgetAsPanel`` (see ``nuke_menu.py``). It polls the shared
:data:`recast.plugin.common.queue.RENDERS` on a timer on the UI thread, so render threads never
touch a widget.
"""

from __future__ import annotations

from .host_job import clock
from .qt import QtCore, QtGui, QtWidgets
from .queue import RENDERS

__all__ = ["QueuePanel", "RenderRow", "open_folder"]

_STATE_TEXT = {"running": "rendering", "done": "done", "failed": "failed", "cancelled": "cancelled"}


def open_folder(folder: str) -> bool:
    """Show ``folder`` in the desktop's file browser."""
    return QtGui.QDesktopServices.openUrl(QtCore.QUrl.fromLocalFile(folder))


class RenderRow(QtWidgets.QFrame):
    """One render: name and state, progress bar, frames, elapsed/ETA, Cancel, Open folder, error."""

    def __init__(self, entry, parent=None):
        super().__init__(parent)
        self.entry = entry
        self.setFrameShape(QtWidgets.QFrame.Shape.StyledPanel)
        self.name = QtWidgets.QLabel(f"<b>{entry.name}</b>")
        self.state = QtWidgets.QLabel()
        self.bar = QtWidgets.QProgressBar()
        self.bar.setRange(0, 1000)
        self.bar.setTextVisible(True)
        self.frames = QtWidgets.QLabel()
        self.time = QtWidgets.QLabel()
        for label in (self.frames, self.time):  # fixed columns, so the bars line up row to row
            label.setMinimumWidth(110)
            label.setAlignment(QtCore.Qt.AlignmentFlag.AlignRight | QtCore.Qt.AlignmentFlag.AlignVCenter)
        self.cancel_button = QtWidgets.QPushButton("Cancel")
        # a plain function, not the bound method: PySide2 (Nuke 14, 15) hashes the slot, and a dataclass instance
        # (the queue entry) is unhashable: a segfault on Python 3.9, a TypeError on 3.10
        self.cancel_button.clicked.connect(lambda *_: entry.cancel())
        self.folder_button = QtWidgets.QPushButton("Open folder")
        self.folder_button.setToolTip(entry.folder)
        self.folder_button.clicked.connect(lambda: open_folder(entry.folder))
        self.error = QtWidgets.QLabel()
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #e05a4f;")
        self.error.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)

        top = QtWidgets.QHBoxLayout()
        top.addWidget(self.name)
        top.addStretch(1)
        top.addWidget(self.state)
        mid = QtWidgets.QHBoxLayout()
        mid.addWidget(self.bar, 1)
        mid.addWidget(self.frames)
        mid.addWidget(self.time)
        mid.addWidget(self.cancel_button)
        mid.addWidget(self.folder_button)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addLayout(top)
        layout.addLayout(mid)
        layout.addWidget(self.error)
        self.refresh()

    def refresh(self) -> None:
        p = self.entry.process
        self.state.setText(_STATE_TEXT.get(p.state, p.state))
        self.bar.setValue(int(round(p.progress * 1000)))
        self.bar.setFormat(f"{p.progress * 100:.0f}%")
        self.frames.setText(f"{p.frames_done} / {p.total or '?'} {getattr(p, 'unit', 'frames')}")
        left = f" · {clock(p.eta)} left" if p.state == "running" else ""
        self.time.setText(f"{clock(p.elapsed)}{left}")
        self.cancel_button.setEnabled(p.state == "running")
        self.error.setText(p.error or "")
        self.error.setVisible(bool(p.error))


class QueuePanel(QtWidgets.QWidget):
    """Every render of this session, newest last; refreshed every ``interval_ms``."""

    def __init__(self, parent=None, queue=None, interval_ms: int = 500):
        super().__init__(parent)
        self.queue = queue if queue is not None else RENDERS
        self.rows: dict[int, RenderRow] = {}
        self.setWindowTitle("Recast renders")
        self.empty = QtWidgets.QLabel("No Recast renders yet. Press Render on a Recast node.")
        self.empty.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
        clear = QtWidgets.QPushButton("Clear finished")
        clear.clicked.connect(self.clear_finished)
        self.list = QtWidgets.QVBoxLayout()
        self.list.setSpacing(4)
        inner = QtWidgets.QWidget()
        column = QtWidgets.QVBoxLayout(inner)
        column.addWidget(self.empty)
        column.addLayout(self.list)
        column.addStretch(1)
        scroll = QtWidgets.QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(inner)
        bar = QtWidgets.QHBoxLayout()
        bar.addWidget(QtWidgets.QLabel("<b>Recast render queue</b>"))
        bar.addStretch(1)
        bar.addWidget(clear)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(scroll)
        self.timer = QtCore.QTimer(self)
        self.timer.timeout.connect(self.refresh)
        self.timer.start(interval_ms)
        self.refresh()

    def refresh(self) -> None:
        entries = self.queue.entries()
        ids = {e.id for e in entries}
        for gone in [i for i in self.rows if i not in ids]:
            self.rows.pop(gone).deleteLater()
        for entry in entries:
            row = self.rows.get(entry.id)
            if row is None:
                row = self.rows[entry.id] = RenderRow(entry)
                self.list.addWidget(row)
            row.refresh()
        self.empty.setVisible(not entries)

    def clear_finished(self) -> None:
        self.queue.clear_finished()
        self.refresh()
