"""``recast review --import`` of a hand-written decision file: a decision spelled as the page's buttons are
("approve") says which values are taken, not only "malformed"."""

from __future__ import annotations

import json

from conftest import run_cli


def test_a_wrong_decision_value_names_the_values_taken(tmp_path):
    path = tmp_path / "picks.json"
    path.write_text(json.dumps({"schema": "recast.review-decisions/1", "job": "job.json",
                                "decisions": [{"version": "v002", "decision": "approve"}]}))
    r = run_cli("review", "--import", path)
    assert r.returncode == 1
    assert '"approved", "rejected" or null' in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
