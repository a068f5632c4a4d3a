"""The README's job-field table is the job schema's documentation: every field the schema accepts has a
row, and every row names a field the schema accepts (a field added or renamed without its row fails here)."""

from __future__ import annotations

import os
import re

from recast.core.job import Job
from tests.conftest import job_dict

README = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "README.md")


def _table_fields() -> set[str]:
    text = open(README, encoding="utf-8").read()
    section = text.split("### The job file", 1)[1].split("\n### ", 1)[0]
    fields = set()
    for line in section.splitlines():
        if line.startswith("| `"):
            first = line.split("|")[1]
            fields.update(re.findall(r"`([^`]+)`", first))
    return fields


def _schema_fields() -> set[str]:
    """What a job file may hold, from the schema itself: top-level fields and the fields of the
    input/output/window sections (matte and customize are documented as one object each)."""
    data = Job.from_dict(job_dict()).to_dict()
    fields = set()
    for key, value in data.items():
        if key in ("input", "output", "window"):
            fields.update(f"{key}.{sub}" for sub in value)
        else:
            fields.add(key)
    return fields - {"schema"}  # shown in the example above the table


def test_the_readme_job_table_names_every_schema_field_and_no_other():
    table, schema = _table_fields(), _schema_fields()
    assert schema - table == set(), f"job fields with no README row: {sorted(schema - table)}"
    assert table - schema == set(), f"README rows naming no job field: {sorted(table - schema)}"
