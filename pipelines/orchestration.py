"""The Prefect API the flows report to: a server the user runs, or the temporary one Prefect starts itself.

Prefect starts its temporary server lazily, on the first flow, and gives it 20 seconds; on a busy machine
(a batch already decoding, other services) it can take longer, and the run then ends with "Timed out
while attempting to connect to ephemeral Prefect API server" before a single call is processed. Here it
is started before any flow, with a longer wait (PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS when the
user set it, else STARTUP_TIMEOUT_S), and started again with twice the wait if it does not come up. If
it still does not, the caller gets one message saying what happened and what to do.

The server takes about 3 s to come up, and this process as long to load Prefect, the speech libraries and
the lexicons; done one after the other, that was a third of a one-call `callqa run`. So the command
launches the server's process first of all (`launch_early`, the same command line Prefect's
SubprocessASGIServer runs), before Prefect itself is imported, and `ensure_prefect_api` adopts it once
Prefect's settings are known to ask for a temporary server (no PREFECT_API_URL from the environment, a
profile or a settings file), or stops it when they do not. Adopting it names it as the API for the rest
of the process (PREFECT_API_URL), so every Prefect client and worker thread uses this one server.

Flow-run heartbeats tell a server's zombie detection that a run still lives; nothing watches a temporary
server, and each flow waited up to a second at its end for its heartbeat thread to notice. On a temporary
server the flows run without them (`quiet_heartbeats`), unless PREFECT_FLOWS_HEARTBEAT_FREQUENCY is set.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

STARTUP_TIMEOUT_S = 60  # the first wait when the user set none; Prefect's own default is 20 s
ATTEMPTS = 2  # each attempt waits twice as long as the one before
TIMEOUT_ENV = "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"


PORT_TAKEN = 3  # uvicorn's exit status when its port was taken between choosing and binding it
HEARTBEAT_ENV = "PREFECT_FLOWS_HEARTBEAT_FREQUENCY"


class OrchestrationError(RuntimeError):
    """No Prefect API to run flows against; the message says why and what to do, in one line."""


class EarlyServer:
    """Prefect's temporary server, launched before Prefect is imported: the command line and environment of
    prefect.server.api.server.SubprocessASGIServer, on a free port of the loopback interface."""

    def __init__(self) -> None:
        spec = importlib.util.find_spec("prefect")
        if spec is None or spec.origin is None:
            raise ModuleNotFoundError("prefect")
        self.app_dir = str(Path(spec.origin).parent.parent)
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self._launch()
        atexit.register(self.stop, wait=False)

    def _launch(self) -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        env = dict(os.environ, PREFECT_UI_ENABLED="0", PREFECT__SERVER_EPHEMERAL="1", PREFECT__SERVER_FINAL="1")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--app-dir", self.app_dir, "--factory",
             "prefect.server.api.server:create_app", "--host", "127.0.0.1", "--port", str(self.port),
             "--log-level", "error", "--lifespan", "on"], env=env, stdin=subprocess.DEVNULL)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def wait(self, seconds: float) -> str | None:
        """None once the server answers, within `seconds`; else what went wrong."""
        import httpx

        deadline = time.monotonic() + max(seconds, 0.1)
        with httpx.Client() as client:
            while True:
                assert self.process is not None
                status = self.process.poll()
                if status == PORT_TAKEN:
                    self._launch()
                elif status is not None:
                    return f"the server process exited with code {status}"
                with contextlib.suppress(httpx.HTTPError):
                    if client.get(f"{self.api_url}/health", timeout=5).status_code == 200:
                        return None
                if time.monotonic() >= deadline:
                    return "Timed out while attempting to connect to ephemeral Prefect API server."
                time.sleep(0.1)

    def stop(self, wait: bool = True) -> None:
        """Stop the server. At this process's exit (`wait=False`) it is only told to: it finishes its
        shutdown (writes what it holds to Prefect's database, then exits) on its own, and the command
        does not wait a fifth of a second for it."""
        if self.process is None:
            return
        self.process.terminate()
        if wait:
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


_early: EarlyServer | None = None
_temporary = False  # the flows of this process report to a temporary server


def launch_early() -> None:
    """Launch Prefect's temporary server now, to come up while this process loads (see the module's
    doc). Nothing happens where the environment names an API or turns the temporary server off, or where
    Prefect is already imported (its settings are then fixed, and it starts its own server)."""
    global _early
    if _early is not None or "prefect" in sys.modules or os.environ.get("PREFECT_API_URL"):
        return
    if os.environ.get("PREFECT_SERVER_EPHEMERAL_ENABLED", "").strip().lower() in ("0", "false", "no", "off"):
        return
    try:
        _early = EarlyServer()
    except (OSError, ModuleNotFoundError):
        _early = None  # ensure_prefect_api starts one the usual way, and says so if it cannot


def _drop_early() -> None:
    global _early
    if _early is not None:
        _early.stop()
        _early = None


def _adopt(url: str) -> None:
    """Name `url` as the Prefect API for the rest of this process, in every thread."""
    from prefect.context import refresh_global_settings_context

    os.environ["PREFECT_API_URL"] = url
    refresh_global_settings_context()


@contextlib.contextmanager
def quiet_heartbeats() -> Iterator[None]:
    """Flow runs without heartbeats while they report to a temporary server (see the module's doc)."""
    if not _temporary or HEARTBEAT_ENV in os.environ:
        yield
        return
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        yield


def _startup_timeout() -> int:
    from prefect.settings import PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS

    if os.environ.get(TIMEOUT_ENV) is not None:
        return int(PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS.value())
    return max(STARTUP_TIMEOUT_S, int(PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS.value()))


def ensure_prefect_api(waits: Sequence[float] | None = None) -> str:
    """The API URL the flows will use, the temporary server started and answering; OrchestrationError
    when there is none. `waits`: seconds to wait for the temporary server at each attempt (default: the
    start-up timeout, then twice that)."""
    import httpx
    from prefect.settings import PREFECT_API_URL, PREFECT_SERVER_EPHEMERAL_ENABLED

    global _early, _temporary
    api = PREFECT_API_URL.value()
    if api and _temporary:
        return api
    if api:
        _drop_early()  # the user's server (from a profile or a settings file) is the one to use
        try:
            httpx.get(f"{api.rstrip('/')}/health", timeout=30).raise_for_status()
        except httpx.HTTPError as exc:
            raise OrchestrationError(
                f"the Prefect server at {api} (PREFECT_API_URL) does not answer ({type(exc).__name__}); start it "
                "(`prefect server start`), or unset PREFECT_API_URL to let Prefect start a temporary one") from None
        return api
    if not PREFECT_SERVER_EPHEMERAL_ENABLED.value():
        _drop_early()
        raise OrchestrationError("no Prefect server: set PREFECT_API_URL to one (`prefect server start` runs one), or "
                                 "set PREFECT_SERVER_EPHEMERAL_ENABLED=true to let Prefect start a temporary one")
    if waits is None:
        timeout = _startup_timeout()
        waits = [timeout * 2**k for k in range(ATTEMPTS)]
    problem = ""
    tries = list(waits)
    if _early is not None and tries:  # the server launched early is the first try
        early, _early = _early, None
        problem = early.wait(tries.pop(0)) or ""
        if not problem:
            _adopt(early.api_url)
            _temporary = True
            return early.api_url
        early.stop()
    from prefect.server.api.server import SubprocessASGIServer

    for wait in tries:
        server = SubprocessASGIServer()
        try:
            # a wait of 0 would fall back to Prefect's setting: 0.1 s is the shortest it polls
            server.start(timeout=wait or 0.1)  # type: ignore[arg-type]
            _temporary = True
            return server.api_url
        except Exception as exc:  # a timeout, the process exiting, a port taken under it
            problem = str(exc).split(" stdout:")[0].strip() or type(exc).__name__
            server.stop()  # a half-started server must not linger into the next attempt
    raise OrchestrationError(
        f"Prefect's temporary server did not start ({len(waits)} tries, waiting {', '.join(f'{w:g}' for w in waits)} "
        f"s; last: {problem}); the machine may be too busy: try again with {TIMEOUT_ENV}=300, or run a Prefect "
        "server (`prefect server start`) and set PREFECT_API_URL=http://127.0.0.1:4200/api")
