"""glibc's malloc keeps freed memory for reuse once nri.runtime.keep_freed_memory has run."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

# Allocates and touches 8 blocks of 8 MiB (a decoder step's tensors are of this size), frees them, and prints how much of it the process still holds.
PROBE = """
import sys
from nri.runtime import keep_freed_memory
if sys.argv[1] == "keep":
    assert keep_freed_memory()

def rss_mib():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2**20

before = rss_mib()
blocks = [bytearray(8 * 2**20) for _ in range(8)]  # zero-filled: every page is touched
del blocks
print(rss_mib() - before)
"""


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
                    reason="the setting is glibc's")
def test_freed_blocks_stay_with_the_process_only_when_asked():
    def retained(mode: str) -> float:
        out = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True,
                             check=True, timeout=60)
        return float(out.stdout)

    assert retained("default") < 16  # glibc's default: blocks this large are unmapped when freed
    assert retained("keep") > 48     # kept in the heap, ready for the next allocation
