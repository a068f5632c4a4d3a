"""An --out the user gave that cannot be written (a file in its path) is one line and exit 1, not an internal
error with a traceback: ``recast farm deadline|flamenco --out``, ``recast cut --out``."""

from __future__ import annotations

import json

from conftest import job_dict, run_cli


def test_farm_out_inside_a_file_is_one_line(tmp_path):
    (tmp_path / "job.json").write_text(json.dumps(job_dict()))
    (tmp_path / "afile").write_text("x")
    for farm in ("deadline", "flamenco"):
        r = run_cli("farm", farm, "--job", str(tmp_path / "job.json"), "--out", str(tmp_path / "afile" / "out"))
        assert r.returncode == 1, (farm, r.stderr)
        assert "Traceback" not in r.stderr and "internal error" not in r.stderr, r.stderr
        assert r.stderr.strip().splitlines() == [r.stderr.strip()] and "afile" in r.stderr
