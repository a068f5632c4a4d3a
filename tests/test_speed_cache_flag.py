"""``--cache`` on the command line takes the job file's JSON form too: its help and every cache error show
{"method": "first_block", "threshold": 0.2}, and a user pasting that got the same error again (and 'mag', which
needs its 'ratios', could not be given on the command line at all)."""

from __future__ import annotations

import pytest

from recast.core.job.speed import _cache


@pytest.mark.parametrize("text, want", [
    ('{"method": "first_block", "threshold": 0.2}', {"method": "first_block", "threshold": 0.2}),
    ('first_block:0.2', {"method": "first_block", "threshold": 0.2}),
    ('{"method": "mag", "ratios": [1.0, 0.9]}', {"method": "mag", "threshold": 0.06, "ratios": [1.0, 0.9]}),
])
def test_the_cache_flag_takes_both_forms(text, want):
    assert _cache(text) == want


def test_json_that_does_not_parse_is_refused():
    with pytest.raises(ValueError, match="does not parse"):
        _cache('{"method": ')
