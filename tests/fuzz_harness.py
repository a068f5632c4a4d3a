"""Run ``recast`` commands over many files in one process, each in turn, so a fuzz test is affordable:
``python fuzz_harness.py COMMAND ARG... -- FILE...`` (``{}`` in the arguments is the file). Before each
file it prints ``BEGIN n``, after it ``END n CODE``; a process killed by a signal (a crash in a library)
leaves a BEGIN without END, which names the file, and the caller starts again after it."""

import contextlib
import io
import sys

from recast.core.cli import main


def run(args, files, start):
    for i in range(start, len(files)):
        print(f"BEGIN {i}", flush=True)
        sink = io.StringIO()
        with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            try:
                code = main([a.replace("{}", files[i]) for a in args])
            except SystemExit as exc:  # argparse
                code = exc.code if isinstance(exc.code, int) else 2
        traceback = "Traceback (most recent call last)" in sink.getvalue()
        print(f"END {i} {code} {int(traceback)}", flush=True)


if __name__ == "__main__":
    sep = sys.argv.index("--")
    start = int(sys.argv[1])
    run(sys.argv[2:sep], sys.argv[sep + 1:], start)
