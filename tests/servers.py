"""Real servers on loopback for the tests: a standalone Prefect server, process workers, an S3 server.

Each runs as a background command in its own process group with its output in a log file, and is
stopped (the whole group) when the test is done.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STARTUP_S = 180  # a cold start on a busy 2-core machine: imports, database migrations


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def tail(path: Path, lines: int = 30) -> str:
    return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]) if path.exists() else ""


class Process:
    """A background command in its own process group, its output in a log file."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path, cwd: Path) -> None:
        self.log = log
        self.fh = log.open("w", encoding="utf-8")
        self.proc = subprocess.Popen(args, env=env, cwd=cwd, stdout=self.fh, stderr=subprocess.STDOUT,
                                     start_new_session=True)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def running(self) -> bool:
        return self.proc.poll() is None

    def descendants(self) -> list[int]:
        """Every process started under this one, whatever its session (a worker starts each flow run in
        a process group of its own)."""
        parents: dict[int, int] = {}
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parents[int(stat.parent.name)] = int(fields[1])
        found, frontier = [], [self.proc.pid]
        while frontier:
            children = [pid for pid, parent in parents.items() if parent in frontier]
            found += children
            frontier = children
        return found

    def kill(self) -> None:
        """SIGKILL the process, its group and every process it started, as a lost machine would."""
        if self.running():
            doomed = self.descendants()
            os.killpg(self.proc.pid, signal.SIGKILL)
            for pid in doomed:
                with suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            self.proc.wait(timeout=20)

    def stop(self) -> None:
        if self.running():
            os.killpg(self.proc.pid, signal.SIGTERM)  # the group: uvicorn and flow-run children too
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=20)
        self.fh.close()


def wait_http(url: str, process: Process, what: str) -> None:
    deadline = time.monotonic() + STARTUP_S
    while True:
        assert process.running(), f"{what} exited:\n{tail(process.log)}"
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                if r.status < 500:
                    return
        except OSError:
            pass
        assert time.monotonic() < deadline, f"no {what} after {STARTUP_S} s:\n{tail(process.log)}"
        time.sleep(0.5)


def project_env(**extra: str) -> dict[str, str]:
    """The environment of the test process, without its Prefect settings, with this checkout first."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(PYTHONPATH=os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]), **extra)
    return env


@contextmanager
def prefect_server(home: Path) -> Iterator[dict[str, str]]:
    """A standalone Prefect server (private PREFECT_HOME and SQLite database under `home`); yields the
    environment that points clients and workers at it."""
    port = free_port()
    env = project_env(PREFECT_HOME=str(home / "home"), PREFECT_API_URL=f"http://127.0.0.1:{port}/api",
                      PREFECT_SERVER_ANALYTICS_ENABLED="false", PREFECT_UI_ENABLED="false", DO_NOT_TRACK="1")
    process = Process([sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)],
                      env, home / "server.log", home)
    try:
        wait_http(f"http://127.0.0.1:{port}/api/health", process, "healthy Prefect server")
        yield env
    finally:
        process.stop()


@contextmanager
def s3_server(home: Path) -> Iterator[dict[str, str]]:
    """A local S3-compatible server (moto) with a bucket `callqa`; yields the AWS_* variables that point
    s3fs and delta-rs at it."""
    port = free_port()
    env = project_env()
    process = Process([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)], env,
                      home / "s3.log", home)
    try:
        wait_http(f"http://127.0.0.1:{port}/", process, "S3 server")
        aws = {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}", "AWS_ACCESS_KEY_ID": "callqa-test",
               "AWS_SECRET_ACCESS_KEY": "callqa-test", "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1"}
        request = urllib.request.Request(f"http://127.0.0.1:{port}/callqa", method="PUT")
        with urllib.request.urlopen(request, timeout=10) as r:  # the bucket (moto accepts it unsigned)
            assert r.status == 200
        yield aws
    finally:
        process.stop()
