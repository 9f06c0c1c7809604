"""How the process ends: no abort at interpreter exit (issue 16), Ctrl-C is exit 130 (issue 19)."""

from __future__ import annotations

import gzip
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lossgap.io.tables import arrow_buffer

SRC = str(Path(__file__).resolve().parents[2] / "src")

# An empty CSV read from memory, then the exit: pyarrow's threaded reader used to leave a
# callback holding the Python bytes on a worker thread, released while the interpreter
# exited ("terminate called without an active exception", exit 134, in about half the runs
# on Python 3.10). Both in-memory paths: the engine choice's look at the head of a file,
# and a compressed file read whole.
EMPTY_THEN_EXIT = """
import sys
from lossgap import InputError
from lossgap.engines.stream import choose_engine
from lossgap.io.tables import read_table
assert choose_engine(sys.argv[1], "auto") == "memory"
try:
    read_table(sys.argv[2])
except InputError:
    pass
"""


@pytest.mark.slow
def test_failed_in_memory_reads_do_not_abort_the_exit(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    packed = tmp_path / "blank.csv.gz"
    packed.write_bytes(gzip.compress(b"\n"))
    env = {**os.environ, "PYTHONPATH": SRC}
    codes = [
        subprocess.run(
            [sys.executable, "-c", EMPTY_THEN_EXIT, str(empty), str(packed)],
            env=env,
            capture_output=True,
            check=False,
        ).returncode
        for _ in range(10)
    ]
    assert codes == [0] * 10


def test_in_memory_tables_are_read_from_arrow_memory():
    # the readers get a copy that holds no Python object (released without the GIL)
    data = bytearray(b"y,p\n1,0.8\n")
    buffer = arrow_buffer(data)
    data[:] = b"x" * len(data)
    assert buffer.to_pybytes() == b"y,p\n1,0.8\n" and buffer.is_mutable


def _blocked_reading_stdin(pid: int) -> bool:
    """The process waits in read(0, ...): inside the command, reading the piped table."""
    try:
        return Path(f"/proc/{pid}/syscall").read_text().startswith("0 0x0 ")
    except OSError:
        return False


def _interrupt(program: list[str], when: str) -> tuple[int, list[str]]:
    """Run ``lossgap explain -``, send SIGINT at ``when``; (exit status, stderr lines).

    ``when`` is a module whose import completes just before (``-X importtime`` reports
    each import on stderr as it completes), or ``"stdin"``: blocked reading the input.
    """
    proc = subprocess.Popen(
        # (no import report when waiting for the read: unread, it would fill the pipe)
        [sys.executable, *([] if when == "stdin" else ["-X", "importtime"]), *program,
         "explain", "-"],
        env={**os.environ, "PYTHONPATH": SRC},
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    seen = []
    deadline = time.monotonic() + 120
    if when == "stdin":
        while not _blocked_reading_stdin(proc.pid):
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.01)
    else:
        for line in proc.stderr:
            seen.append(line)
            if line.startswith("import time:") and line.split("|")[-1].strip() == when:
                break
        else:
            pytest.fail(f"{when} was never imported")
    proc.send_signal(signal.SIGINT)
    _, rest = proc.communicate(timeout=120)
    lines = [
        line for line in [*seen, *rest.splitlines()] if not line.startswith("import time:")
    ]
    return proc.returncode, [line.rstrip("\n") for line in lines]


# how the program starts: python -m lossgap, and what the console script runs
PROGRAMS = {
    "-m": ["-m", "lossgap"],
    "script": ["-c", "import sys; from lossgap.__main__ import main; sys.exit(main())"],
}


@pytest.mark.slow
@pytest.mark.parametrize(
    ("program", "when"),
    [
        ("-m", "typer"),  # the command line's own modules load
        ("script", "typer"),
        ("-m", "numpy"),  # the command's modules load
        # the reader loads (pyarrow, an extra since issue 16, loads only after the read)
        ("-m", "lossgap.io.tables"),
        ("-m", "stdin"),  # the command runs
        ("script", "stdin"),
    ],
)
def test_ctrl_c_is_exit_130_and_one_line(program, when):
    code, lines = _interrupt(PROGRAMS[program], when)
    assert code == 130
    assert lines == ["lossgap: interrupted"]
