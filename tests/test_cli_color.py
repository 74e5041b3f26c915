"""Colour in text output only when stdout is a terminal, and never with NO_COLOR."""
from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "incident"
ESC = "\x1b["


def run_on_terminal(env: dict[str, str]) -> str:
    """qlint check with its stdout on a pseudo-terminal; what it printed."""
    leader, follower = pty.openpty()
    process = subprocess.Popen([sys.executable, "-m", "qlint", "check", "--no-cache", "."], cwd=EXAMPLE,
                               stdout=follower, stderr=subprocess.PIPE, env=env)
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 65536)
        except OSError:  # EIO: the other end closed
            break
        if not data:
            break
        chunks.append(data)
    os.close(leader)
    assert process.wait(120) == 1
    return b"".join(chunks).decode()


def plain_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "NO_COLOR"}


def test_a_terminal_gets_colour():
    out = run_on_terminal(plain_env())
    assert "QL101" in out and ESC in out


def test_no_color_turns_it_off():
    out = run_on_terminal({**plain_env(), "NO_COLOR": "1"})
    assert "QL101" in out and ESC not in out


def test_a_pipe_gets_none():
    done = subprocess.run([sys.executable, "-m", "qlint", "check", "--no-cache", "."], cwd=EXAMPLE,
                          capture_output=True, text=True, env=plain_env())
    assert done.returncode == 1 and "QL101" in done.stdout and ESC not in done.stdout
