"""What the benchmarks share: the Recast CLI run in a child that reports its own peak RSS, and a table row of
medians with their spread and ratio."""

from __future__ import annotations

import statistics

__all__ = ["WITH_RSS", "row"]

#: ``python -c WITH_RSS <recast arguments>``: the CLI, then its peak RSS (MB) as the last line on stderr
WITH_RSS = ("import resource, sys\nfrom recast.core.cli.main import main\ncode = main(sys.argv[1:])\n"
            "print('peak_rss_mb', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, file=sys.stderr)\n"
            "sys.exit(code)")


def row(label: str, a: list, b: list, key: str, fmt: str) -> str:
    """``| label | median a (± spread) | median b (± spread) | a / b |`` of the runs' ``key``."""
    x, y = statistics.median(r[key] for r in a), statistics.median(r[key] for r in b)
    spread = lambda rs: max(r[key] for r in rs) - min(r[key] for r in rs)  # noqa: E731
    return f"| {label} | {x:{fmt}} (±{spread(a):{fmt}}) | {y:{fmt}} (±{spread(b):{fmt}}) | {x / y:.2f} |"
