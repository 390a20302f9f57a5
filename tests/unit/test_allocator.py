"""Freed large blocks go back to the system once the kiosk has fixed glibc's threshold, also
after a freed mapped block would have raised it (each case in a fresh process: the
allocator's state is the process's)."""

from __future__ import annotations

import subprocess
import sys

FREE_BLOCKS = """
import sys
from kiosk_app._allocator import keep_large_blocks_returnable
from testkit.allocator import large_blocks_left_behind_mb

if sys.argv[1] == "fixed":
    assert keep_large_blocks_returnable()
print(large_blocks_left_behind_mb())
"""


def _left_behind_mb(mode: str) -> float:
    done = subprocess.run([sys.executable, "-c", FREE_BLOCKS, mode], capture_output=True, text=True, check=True)
    return float(done.stdout)


def test_freed_large_blocks_stay_with_the_process_under_glibc_s_own_rising_threshold() -> None:
    assert _left_behind_mb("default") > 48


def test_with_the_threshold_fixed_freed_large_blocks_go_back_to_the_system() -> None:
    assert _left_behind_mb("fixed") < 16
