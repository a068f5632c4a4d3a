"""The render queue panel, offscreen: rows, buttons, errors, a screenshot for people to look at.

The screenshot goes to ``$RECAST_TEST_ARTIFACTS`` (default: ``test-artifacts/`` in the repo).
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from filelock import FileLock

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
QtWidgets = pytest.importorskip("PySide6.QtWidgets")  # a test extra; PySide2 (Nuke 14, 15) is tested below

from recast.plugin.common import queue_panel  # noqa: E402
from recast.plugin.common.queue import RenderQueue  # noqa: E402

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
            "from recast.plugin.common.qt import QtWidgets; app = QtWidgets.QApplication([]);"
            "from recast.plugin.queue_panel import QueuePanel; QueuePanel(); print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr


PYSIDE2_CACHE = os.environ.get("RECAST_PYSIDE2_CACHE",
                               os.path.join(os.path.expanduser("~"), ".cache", "recast", "pyside2"))
_PANEL_UNDER_PYSIDE2 = r"""
import os, sys, types
os.environ["QT_QPA_PLATFORM"] = "offscreen"
sys.modules["PySide6"] = None  # Nuke 14 and 15 ship PySide2 only
package = types.ModuleType("recast"); package.__path__ = [sys.argv[1]]; sys.modules["recast"] = package
from recast.plugin.common.qt import QtWidgets
import PySide2
app = QtWidgets.QApplication([])
from recast.plugin.common.queue import RenderQueue
from recast.plugin.queue_panel import QueuePanel

class Process:
    state, progress, frames_done, total, elapsed, eta, error = "running", 0.5, 2, 6, 10.0, 10.0, None
    cancels = 0
    def cancel(self):
        Process.cancels += 1

queue = RenderQueue()
queue.add("Recast1", Process(), "/tmp")
panel = QueuePanel(queue=queue)
panel.show(); app.processEvents()
row = list(panel.rows.values())[0]
row.cancel_button.click()
app.processEvents()
print("ok", PySide2.__version__, Process.cancels)
"""


@pytest.mark.parametrize("version", ["3.9", "3.10"])
def test_the_panel_and_its_cancel_button_work_under_pyside2(version, tmp_path):
    """Nuke 14 (3.9) and 15 (3.10) ship PySide2, which hashes a slot: a bound method of the queue's dataclass
    entry segfaulted on 3.9 and raised TypeError on 3.10. PySide2 5.15 in a venv of that Python, cached."""
    from tests.test_hosts import _python

    python = _python(version)
    if python is None:
        pytest.skip(f"no Python {version} here, so Nuke's PySide2 panel is not tested on it")
    venv = os.path.join(PYSIDE2_CACHE, version)
    vpython = os.path.join(venv, "bin", "python")
    check = [vpython, "-c", "import PySide2.QtWidgets"]
    os.makedirs(PYSIDE2_CACHE, exist_ok=True)
    with FileLock(venv + ".lock"):  # xdist workers and other checkouts build it once
        _pyside2_build(python, venv, vpython, check, version)
    run = subprocess.run([vpython, "-c", _PANEL_UNDER_PYSIDE2, REPO], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, f"exit {run.returncode}: {run.stderr[-2000:]}"
    assert run.stdout.split()[0] == "ok" and run.stdout.split()[-1] == "1", run.stdout


def _pyside2_build(python, venv, vpython, check, version) -> None:
    if not (os.path.exists(vpython) and subprocess.run(check, capture_output=True).returncode == 0):
        made = subprocess.run([python, "-m", "venv", "--clear", venv], capture_output=True, text=True)
        inst = made.returncode == 0 and subprocess.run([vpython, "-m", "pip", "install", "-q", "PySide2==5.15.2.1"],
                                                       capture_output=True, text=True, timeout=1200)
        if not inst or inst.returncode != 0 or subprocess.run(check, capture_output=True).returncode != 0:
            why = (inst.stderr if inst else made.stderr).strip().splitlines()[-1:] or ["?"]
            pytest.skip(f"PySide2 could not be installed for Python {version}: {why[0]}")
