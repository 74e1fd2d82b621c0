"""The command line as a new user meets it: one-line errors, nothing lost, documented exit statuses."""
import os
import signal
import subprocess
import sys
import time

import pytest

from conftest import ROOT, run_cli

COMMANDS = ["svc-encode", "svc-decode", "svc-extract", "svc-info", "svc-analyze", "svc-eval-tracking", "svc-train",
            "svc-config"]


def _one_line(p):
    err = p.stderr.decode()
    return len(err.strip().splitlines()) == 1 and "Traceback" not in err


@pytest.fixture(scope="module")
def small(carphone_yuv, tmp_path_factory):
    """A 12-frame raw clip and its base-only stream."""
    d = tmp_path_factory.mktemp("cli")
    raw = d / "clip_176x144_30.yuv"
    raw.write_bytes(carphone_yuv.read_bytes()[:12 * 176 * 144 * 3 // 2])
    svc = d / "clip.svc"
    run_cli("svc-encode", raw, "--no-enhancement", "--gop", "6", "--preset", "ultrafast", "-q", "-o", svc)
    return raw, svc


@pytest.mark.parametrize("cmd", COMMANDS)
def test_help_documents_exit_statuses(cmd):
    out = run_cli(cmd, "--help").stdout.decode()
    assert "exit status: 0 success; 1 error" in " ".join(out.split()) and "3 finished, but the output is incomplete" in \
        " ".join(out.split())


def test_python_m_svc_lists_commands():
    p = subprocess.run([sys.executable, "-m", "svc"], capture_output=True, cwd=ROOT)
    assert p.returncode == 0 and all(c.removeprefix("svc-") in p.stdout.decode() for c in COMMANDS)
    p = subprocess.run([sys.executable, "-m", "svc", "encodee"], capture_output=True, cwd=ROOT)
    assert p.returncode == 2 and b"unknown command 'encodee'" in p.stderr


_ENDS = """
import atexit, sys, threading
from svc.cli import end_process
atexit.register(lambda: open(sys.argv[1], "w").write("exit handlers ran"))
sys.stdout.write("x" * 300000)       # buffered text, written by the flush at the end
if sys.argv[2] == "thread":          # a non-daemon thread still running: the ordinary exit waits for it
    threading.Thread(target=lambda: (__import__("time").sleep(0.3), open(sys.argv[1] + ".t", "w").close())).start()
end_process(int(sys.argv[3]) if sys.argv[3].isdigit() else sys.argv[3])
"""


@pytest.mark.parametrize("case", [("plain", "0", 0), ("plain", "3", 3), ("plain", "a message", 1),
                                  ("thread", "0", 0)])
def test_processes_end_without_teardown_but_lose_nothing(tmp_path, case):
    """The console scripts end through end_process (no interpreter teardown): the status of
    sys.exit, the exit handlers run, buffered output written, running threads waited for."""
    mode, code, status = case
    marker = tmp_path / "marker"
    p = subprocess.run([sys.executable, "-c", _ENDS, str(marker), mode, code], capture_output=True, cwd=ROOT,
                       env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=60)
    assert p.returncode == status and p.stdout == b"x" * 300000
    assert marker.read_text() == "exit handlers ran"
    assert (p.stderr.decode().strip() == code) if status == 1 else not p.stderr
    assert (tmp_path / "marker.t").exists() == (mode == "thread")


def test_output_that_is_the_input_is_refused(small, tmp_path):
    raw, svc = small
    copy = tmp_path / "self_176x144.yuv"
    copy.write_bytes(raw.read_bytes())
    before = copy.read_bytes()
    p = run_cli("svc-encode", copy, "--no-enhancement", "-o", copy, check=False)
    assert p.returncode == 1 and _one_line(p) and b"is the input" in p.stderr
    assert copy.read_bytes() == before
    p = run_cli("svc-decode", svc, "--layer", "base", "-o", svc, check=False)
    assert p.returncode == 1 and _one_line(p)


@pytest.mark.parametrize("out", ["out.svc", "noext"])
def test_decode_names_the_formats_it_writes(small, tmp_path, out):
    p = run_cli("svc-decode", small[1], "--layer", "base", "-o", tmp_path / out, check=False)
    assert p.returncode == 1 and _one_line(p) and b".yuv" in p.stderr and b".y4m" in p.stderr
    assert not (tmp_path / out).exists()


def test_unreadable_inputs_in_plain_words(tmp_path):
    text = tmp_path / "text.mp4"
    text.write_text("this is not a video\n")
    p = run_cli("svc-encode", text, check=False)
    assert p.returncode == 1 and _one_line(p) and b"cannot read" in p.stderr and b"index out of range" not in p.stderr
    p = run_cli("svc-decode", text, "-o", tmp_path / "x.yuv", check=False)
    assert p.returncode == 1 and _one_line(p) and b"not an svc container" in p.stderr


def test_missing_output_folder(small, tmp_path):
    p = run_cli("svc-encode", small[0], "--no-enhancement", "-o", tmp_path / "nodir" / "x.svc", check=False)
    assert p.returncode == 1 and _one_line(p) and b"does not exist" in p.stderr and b".partial" not in p.stderr


def test_decode_output_is_atomic_unless_live(small, tmp_path):
    raw, svc = small
    out = tmp_path / "o.y4m"
    run_cli("svc-decode", svc, "--layer", "base", "-o", out, "-q")
    assert out.stat().st_size > 12 * 176 * 144 and not list(tmp_path.glob("*.partial"))
    out2 = tmp_path / "o.yuv"
    run_cli("svc-decode", svc, "--layer", "base", "-o", out2, "-q", "--live-output")
    assert out2.stat().st_size == 12 * 176 * 144 * 3 // 2


@pytest.mark.parametrize("cmd,outputs", [
    (["svc-decode", "--layer", "base", "-o", "{d}/o.yuv"], ["o.yuv"]),
    (["svc-analyze", "-o", "{d}/t.txt", "--detections", "{d}/d.txt", "--detector", "opencv"], ["t.txt", "d.txt"]),
])
def test_interrupted_commands_leave_nothing(small, tmp_path, cmd, outputs):
    """A stream still being written (--follow): interrupt the reader half way; no output file, no .partial."""
    raw, svc = small
    data = svc.read_bytes()
    growing = tmp_path / "g.svc"
    growing.write_bytes(data[:-16])  # every GOP, no end marker yet: the reader waits for more
    args = [a.format(d=tmp_path) for a in cmd]
    p = subprocess.Popen([sys.executable, "-m", "svc", args[0].removeprefix("svc-"), str(growing), *args[1:],
                          "--follow", "-q"], cwd=ROOT, stderr=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(ROOT)})
    def partial():  # each command's partial file has a name of its own: .NAME.PID-RANDOM.partial
        return list(tmp_path.glob(f".{outputs[0]}.*.partial"))
    deadline = time.monotonic() + 120
    while not partial() and time.monotonic() < deadline and p.poll() is None:
        time.sleep(0.2)
    assert partial(), "the command never started writing"
    time.sleep(1.0)  # now it waits in --follow for the end marker
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=60)
    # 130, or killed by the SIGINT itself (-2: CPython ends that way when the interrupt reaches it again
    # while it exits; shells show both as 130), after the one-line message
    assert p.returncode in (130, -signal.SIGINT) and b"interrupted" in err, \
        (p.returncode, err.decode(errors="replace")[-2000:])
    assert not any((tmp_path / o).exists() for o in outputs)
    assert not list(tmp_path.glob(".*.partial"))
