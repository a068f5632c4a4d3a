"""One exit-code mapping (:func:`recast.core.errors.exit_code`) for the CLI and for renders in ``recast serve``."""

from __future__ import annotations

import signal

import pytest

from recast.core.errors import Cancelled, JobError, exit_code
from recast.core.farm import runner
from recast.core.progress import CancelFlag
from tests.conftest import job_dict
from tests.test_render import Collect


@pytest.mark.parametrize("exc, code", [(None, 0), (JobError("bad"), 1), (ValueError("bug"), 3),
                                       (Cancelled("c", signal.SIGINT), 130), (Cancelled("c", signal.SIGTERM), 143),
                                       (Cancelled("c"), 130)])
def test_exit_codes(exc, code):
    assert exit_code(exc) == code


class _NoLoaders:
    def for_job(self, job):
        return None


@pytest.mark.parametrize("exc", [Cancelled("cancelled (SIGINT)", signal.SIGINT),
                                 Cancelled("cancelled (SIGTERM)", signal.SIGTERM), JobError("a bad job"), None])
def test_the_server_ends_a_render_with_the_code_the_cli_gives(tmp_path, monkeypatch, exc):
    """A render in ``recast serve`` stopped by SIGINT is 130 there too (it was always 143), by SIGTERM 143."""
    def fake_render(*args, **kwargs):
        if exc is not None:
            raise exc

    monkeypatch.setattr("recast.core.pipeline.render.render", fake_render)
    reporter = Collect()
    request = {"job": job_dict(), "root": str(tmp_path)}
    assert runner.run_request(request, _NoLoaders(), reporter, CancelFlag()) == exit_code(exc)
    if exc is not None:
        assert reporter.events[-1]["event"] == "error"


def test_the_cli_uses_the_mapping(monkeypatch, tmp_path):
    from recast.core.cli.main import main

    for exc in (Cancelled("c", signal.SIGINT), Cancelled("c", signal.SIGTERM), JobError("bad")):
        def fake_run(args, reporter, cancel, exc=exc):
            raise exc

        monkeypatch.setattr("recast.core.cli.render.run", fake_run)
        assert main(["render", "--input", "p.####.exr", "--output", "o.####.exr", "--json"]) == exit_code(exc)
