"""Servers the benchmarks start: a free loopback port for one, and stopping it for sure."""

import socket
import subprocess

STOP_WAIT_S = 20.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def stop(process: "subprocess.Popen[bytes]") -> None:
    """Ask the server to stop; one that does not within STOP_WAIT_S is killed, never left running."""
    process.terminate()
    try:
        process.wait(STOP_WAIT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
