"""The render queue panel, offscreen: rows, buttons, errors, a screenshot for people to look at.

The screenshot goes to ``$RECAST_TEST_ARTIFACTS`` (default: ``test-artifacts/`` in the repo).
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
QtWidgets = pytest.importorskip("PySide6.QtWidgets")  # a test extra; PySide2 works in Nuke 11-15

from recast.plugin import queue_panel  # noqa: E402
from recast.plugin.queue import RenderQueue  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ARTIFACTS = os.environ.get("RECAST_TEST_ARTIFACTS", os.path.join(REPO, "test-artifacts"))


class Process:
    """What the panel reads of a RenderProcess, set by hand."""

    def __init__(self, state="running", progress=0.0, frames_done=0, total=0, elapsed=0.0, eta=None, error=None):
        self.state, self.progress, self.frames_done, self.total = state, progress, frames_done, total
        self.elapsed, self.eta, self.error = elapsed, eta, error
        self.cancels = 0

    def cancel(self):
        self.cancels += 1


@pytest.fixture(scope="module")
def app():
    return QtWidgets.QApplication.instance() or QtWidgets.QApplication([])


def test_rows_show_progress_frames_time_and_errors(app, monkeypatch, tmp_path):
    queue = RenderQueue()
    running = Process("running", 0.42, 3, 8, 75, 104)
    queue.add("Recast1", running, str(tmp_path / "sh010"))
    queue.add("Recast2", Process("done", 1.0, 48, 48, 3725), str(tmp_path / "sh020"))
    log = "/shots/sh030/recast/Recast3/logs/recast_Recast3_20261124-101500_4242.log"
    queue.add("Recast3", Process("failed", 0.1, 0, 24, 12, None,
                                 f"device 'cuda' was asked for but no CUDA GPU is available (log: {log})"),
              str(tmp_path / "sh030"))
    panel = queue_panel.QueuePanel(queue=queue)
    panel.resize(760, 330)
    panel.show()
    app.processEvents()

    rows = [panel.rows[e.id] for e in queue.entries()]
    first, done, failed = rows
    assert (first.state.text(), first.bar.value(), first.frames.text(), first.time.text()) == (
        "rendering", 420, "3 / 8 frames", "1:15 · 1:44 left")
    assert first.cancel_button.isEnabled() and not done.cancel_button.isEnabled()
    assert (done.state.text(), done.bar.value(), done.time.text()) == ("done", 1000, "1:02:05")
    assert failed.state.text() == "failed" and failed.error.isVisible() and log in failed.error.text()
    assert not first.error.isVisible() and not panel.empty.isVisible()

    first.cancel_button.click()
    assert running.cancels == 1
    opened = []
    monkeypatch.setattr(queue_panel, "open_folder", opened.append)
    failed.folder_button.click()
    assert opened == [str(tmp_path / "sh030")]

    # a timer tick picks up progress made on the render's thread
    running.progress, running.frames_done, running.eta = 0.9, 7, 8
    panel.timer.timeout.emit()
    assert (first.bar.value(), first.frames.text(), first.time.text()) == (900, "7 / 8 frames", "1:15 · 0:08 left")

    os.makedirs(ARTIFACTS, exist_ok=True)
    shot = os.path.join(ARTIFACTS, "recast_queue_panel.png")
    assert panel.grab().save(shot)
    from PySide6.QtGui import QImage

    image = QImage(shot)
    assert (image.width(), image.height()) == (760, 330)
    assert len({image.pixel(x, y) for x in range(0, 760, 7) for y in range(0, 330, 7)}) > 8  # drawn, not blank

    panel.clear_finished()
    assert [r.entry.name for r in panel.rows.values()] == ["Recast1"]
    running.state = "cancelled"
    panel.clear_finished()
    assert panel.rows == {} and not panel.empty.isHidden()


def test_the_widget_never_imports_a_host():
    code = ("import sys; sys.modules['nuke'] = None; sys.modules['bpy'] = None;"  # importing them now fails
            "import os; os.environ['QT_QPA_PLATFORM'] = 'offscreen';"
            "from recast.plugin.qt import QtWidgets; app = QtWidgets.QApplication([]);"
            "from recast.plugin.queue_panel import QueuePanel; QueuePanel(); print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr
