"""``recast serve`` survives its clients: cancelled or killed mid-render, hostile before the token, idle beside a
render, and a ``--connection-file`` that names someone else's file."""

import json
import os
import signal
import socket
import struct
import subprocess
import threading
import time

import pytest

from tests.conftest import RECAST, job_dict, listing, run_cli, run_cli_process


def _running(pid: int) -> bool:
    """A zombie (exited, not yet reaped by whoever adopted it) has stopped too."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.fixture
def server(tmp_path):
    """A detached ``recast serve`` as a farm's step environment starts it: ``(connection file, its contents)``."""
    conn = tmp_path / "session" / "recast-server.json"
    conn.parent.mkdir()
    started = run_cli("serve", "--connection-file", conn)
    assert started.returncode == 0, started.stderr
    info = json.loads(conn.read_text())
    yield conn, info
    if _running(info["pid"]):  # a test that failed half-way must not leave a server behind
        os.kill(info["pid"], signal.SIGKILL)


def _ask(info, data: bytes, timeout=30) -> list[dict]:
    """Send raw bytes to the server; the lines it answers until it closes."""
    with socket.create_connection((info["host"], info["port"]), timeout=timeout) as s:
        s.sendall(data)
        if not data.endswith(b"\n"):
            s.shutdown(socket.SHUT_WR)  # all it will send
        return [json.loads(line) for line in s.makefile("rb")]


def _stop(conn) -> subprocess.CompletedProcess:
    return run_cli_process("serve", "--stop", "--connection-file", conn, timeout=60)


def _wait_gone(pid: int) -> None:
    for _ in range(100):
        if not _running(pid):
            return
        time.sleep(0.1)
    pytest.fail(f"server {pid} still runs")


def test_a_client_cancelled_or_killed_mid_render_cancels_it_and_the_server_serves_the_next(tmp_path, server):
    from recast.core.shot.synthetic import write_synthetic_plate

    conn, info = server
    write_synthetic_plate(str(tmp_path / "plate" / "sh010.####.exr"), 1001, 24, width=64, height=40)
    long = tmp_path / "long.json"  # ~8 windows of 10 steps: seconds to render, so a cancel lands mid-render
    long.write_text(json.dumps(job_dict(input={"frames": "1001-1024"}, steps=10)))
    short = tmp_path / "short.json"
    short.write_text(json.dumps(job_dict(output={"pattern": "next/sh010_next.####.exr"})))
    for sig in (signal.SIGTERM, signal.SIGKILL):  # a farm's cancel; a task killed outright
        client = subprocess.Popen(RECAST + ["render", "--job", str(long), "--server", str(conn)],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for line in client.stdout:
            event = json.loads(line)
            if event["event"] == "progress" and event["stage"] == "denoise":
                break
        else:
            pytest.fail(f"the render ended before denoising: {client.stderr.read()}")
        client.send_signal(sig)
        assert client.wait(timeout=60) == (143 if sig == signal.SIGTERM else -signal.SIGKILL)
        client.stdout.close(), client.stderr.close()
        assert _running(info["pid"]) and json.loads(conn.read_text()) == info  # still up, still reachable

    nxt = run_cli("render", "--job", short, "--server", conn)
    assert nxt.returncode == 0, nxt.stderr
    assert listing(tmp_path / "next") == [f"sh010_next.{f}.exr" for f in range(1001, 1007)]
    assert len(listing(tmp_path / "render")) < 24  # both long renders stopped part-way
    log = (conn.parent / "recast-server.json.log").read_text()
    assert log.count("render ended: exit 143") == 2 and log.count("(its client went away)") == 2, log
    stopped = _stop(conn)
    assert stopped.returncode == 0 and "after 1 render(s)" in stopped.stderr and not conn.exists()
    _wait_gone(info["pid"])


def test_nothing_sent_before_the_token_ends_the_server(server):
    conn, info = server
    refused = {"event": "exit", "code": 1, "error": "wrong or missing token"}
    not_json = {"event": "exit", "code": 1, "error": "a request is one JSON object on one line"}
    cases = [('{"token": "\u00e9t\u00e9", "stop": true}\n'.encode(), refused),  # non-ASCII: compared as bytes
             (b'{"token": "\\ud800", "stop": true}\n', refused),  # a lone surrogate
             (b'{"token": 42, "stop": true}\n', refused), (b'{"stop": true}\n', refused),
             (b"[" * 200_000 + b"\n", not_json), (b'{"a":' * 50_000 + b"\n", not_json),  # deeper than the parser
             (b"GET / HTTP/1.0\n", not_json), (b"\n", not_json), (b"", not_json), (b"\xff\xfe{}\n", not_json),
             (b'["token"]\n', not_json)]
    for data, answer in cases:
        assert _ask(info, data) == [answer], data[:40]
    over = _ask(info, b"x" * (2**20 + 1))  # no newline in sight: one line back, then closed
    assert over == [{"event": "exit", "code": 1, "error": f"request line over {2**20} bytes"}]
    for _ in range(3):  # reset mid-line (a client killed while sending)
        s = socket.create_connection((info["host"], info["port"]))
        s.sendall(b'{"token": "' + info["token"][:10].encode())
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
    token = info["token"]
    for job in ('"not a job"', "[1, 2]", "null"):  # past the token: still one error, and the server goes on
        got = _ask(info, f'{{"token": "{token}", "job": {job}, "root": "/"}}\n'.encode())
        assert got[0]["event"] == "error" and "'job' must be a JSON object" in got[0]["message"]
        assert got[-1] == {"event": "exit", "code": 1}
    stopped = _stop(conn)
    assert stopped.returncode == 0 and "after 0 render(s)" in stopped.stderr, stopped.stderr
    _wait_gone(info["pid"])


def test_an_idle_connection_blocks_neither_a_render_nor_the_stop(tmp_path, plate, server):
    conn, info = server
    job = tmp_path / "job.json"
    job.write_text(json.dumps(job_dict()))
    idle = socket.create_connection((info["host"], info["port"]))  # says nothing
    slow = socket.create_connection((info["host"], info["port"]))
    slow.sendall(b'{"token": "')  # half a line, and then nothing
    try:
        r = run_cli_process("render", "--job", job, "--server", conn, timeout=120)
        assert r.returncode == 0, r.stderr
        assert listing(tmp_path / "render") == [f"sh010_recast.{f}.exr" for f in range(1001, 1007)]
        t = time.monotonic()
        stopped = _stop(conn)
        assert stopped.returncode == 0 and "after 1 render(s)" in stopped.stderr
        assert time.monotonic() - t < 20 and not conn.exists()
        _wait_gone(info["pid"])
    finally:
        idle.close(), slow.close()


def test_a_silent_client_is_answered_and_closed_after_the_request_timeout(tmp_path):
    import logging

    from recast.core.farm.server import serve
    from recast.core.progress import CancelFlag

    conn, stop = tmp_path / "s.json", CancelFlag()
    codes = []
    thread = threading.Thread(target=lambda: codes.append(serve(str(conn), stop=stop, request_seconds=0.5)))
    thread.start()
    try:
        for _ in range(100):
            if conn.exists():
                break
            time.sleep(0.05)
        info = json.loads(conn.read_text())
        t = time.monotonic()
        with socket.create_connection((info["host"], info["port"]), timeout=10) as s:
            s.sendall(b'{"tok')  # a slow client: its bytes trickle, its deadline stays
            lines = s.makefile("rb").readlines()
        assert [json.loads(x) for x in lines] == [{"event": "exit", "code": 1,
                                                   "error": "no request line within 0.5 s"}]
        assert time.monotonic() - t < 5
    finally:
        stop.set(signal.SIGTERM)
        thread.join(30)
        for h in list(logging.getLogger("recast").handlers):  # serve() logs beside its connection file
            if str(tmp_path) in getattr(h, "baseFilename", ""):
                logging.getLogger("recast").removeHandler(h)
                h.close()
    assert codes == [143] and not conn.exists()


def test_the_connection_file_never_replaces_another_file(tmp_path, plate):
    exr = tmp_path / "plate" / "sh010.1001.exr"
    before = exr.read_bytes()
    (tmp_path / "folder.json").mkdir()
    for path in (exr, tmp_path / "folder.json"):
        for args in (["--connection-file", path], ["--connection-file", path, "--foreground"]):
            r = run_cli("serve", *args)
            assert r.returncode == 1 and r.stderr.startswith("recast: error: ") and "Traceback" not in r.stderr
            assert "is not a Recast connection file" in r.stderr and len(r.stderr.splitlines()) == 1, r.stderr
    stop = run_cli("serve", "--stop", "--connection-file", exr)
    assert stop.returncode == 1 and len(stop.stderr.splitlines()) == 1
    assert exr.read_bytes() == before and listing(tmp_path / "plate") == [f"sh010.{f}.exr" for f in range(1001, 1007)]

    missing = run_cli_process("serve", "--connection-file", tmp_path / "no" / "such" / "s.json")
    assert missing.returncode == 1 and "Traceback" not in missing.stderr, missing.stderr
    assert missing.stderr.splitlines() == [f"recast: error: the folder of the connection file "
                                           f"{str(tmp_path / 'no' / 'such' / 's.json')!r} does not exist; create it "
                                           "or name another --connection-file"]
    assert not (tmp_path / "no").exists()


def test_a_second_server_on_a_live_servers_connection_file_is_refused_and_the_first_keeps_serving(tmp_path):
    conn = tmp_path / "recast-server.json"
    assert run_cli("serve", "--connection-file", conn).returncode == 0
    before = conn.read_text()
    for extra in ((), ("--foreground",)):
        r = run_cli("serve", "--connection-file", conn, *extra)
        assert r.returncode == 1 and "is already listening on" in r.stderr and "serve --stop" in r.stderr, r.stderr
        assert len(r.stderr.strip().splitlines()) == 1 and conn.read_text() == before
    stop = run_cli("serve", "--stop", "--connection-file", conn)  # the first server still answers its file
    assert stop.returncode == 0 and "server stopped after 0 render(s)" in stop.stderr and not conn.exists()
    _wait_gone(json.loads(before)["pid"])


def test_an_earlier_servers_connection_file_is_replaced_and_removed_on_stop(tmp_path):
    conn = tmp_path / "recast-server.json"
    conn.write_text(json.dumps({"host": "127.0.0.1", "port": 9, "token": "0" * 64, "pid": 1}))  # a stale one
    assert run_cli("serve", "--connection-file", conn).returncode == 0
    info = json.loads(conn.read_text())
    assert info["token"] != "0" * 64
    assert run_cli("serve", "--stop", "--connection-file", conn).returncode == 0 and not conn.exists()
    _wait_gone(info["pid"])
