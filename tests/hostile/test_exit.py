"""How the process ends: no abort at interpreter exit (issue 16), Ctrl-C is exit 130 (issue 19)."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
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
