"""The Prefect API the flows report to: a server the user runs, or the temporary one Prefect starts itself.

Prefect starts its temporary server lazily, on the first flow, and gives it 20 seconds; on a busy machine
(a batch already decoding, other services) it can take longer, and the run then ends with "Timed out
while attempting to connect to ephemeral Prefect API server" before a single call is processed. Here it
is started before any flow, with a longer wait (PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS when the
user set it, else STARTUP_TIMEOUT_S), and started again with twice the wait if it does not come up. If
it still does not, the caller gets one message saying what happened and what to do.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

STARTUP_TIMEOUT_S = 60  # the first wait when the user set none; Prefect's own default is 20 s
ATTEMPTS = 2  # each attempt waits twice as long as the one before
TIMEOUT_ENV = "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"


class OrchestrationError(RuntimeError):
    """No Prefect API to run flows against; the message says why and what to do, in one line."""


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

    api = PREFECT_API_URL.value()
    if api:
        try:
            httpx.get(f"{api.rstrip('/')}/health", timeout=30).raise_for_status()
        except httpx.HTTPError as exc:
            raise OrchestrationError(
                f"the Prefect server at {api} (PREFECT_API_URL) does not answer ({type(exc).__name__}); start it "
                "(`prefect server start`), or unset PREFECT_API_URL to let Prefect start a temporary one") from None
        return api
    if not PREFECT_SERVER_EPHEMERAL_ENABLED.value():
        raise OrchestrationError("no Prefect server: set PREFECT_API_URL to one (`prefect server start` runs one), or "
                                 "set PREFECT_SERVER_EPHEMERAL_ENABLED=true to let Prefect start a temporary one")
    from prefect.server.api.server import SubprocessASGIServer

    if waits is None:
        timeout = _startup_timeout()
        waits = [timeout * 2**k for k in range(ATTEMPTS)]
    problem = ""
    for wait in waits:
        server = SubprocessASGIServer()
        try:
            # a wait of 0 would fall back to Prefect's setting: 0.1 s is the shortest it polls
            server.start(timeout=wait or 0.1)  # type: ignore[arg-type]
            return server.api_url
        except Exception as exc:  # a timeout, the process exiting, a port taken under it
            problem = str(exc).split(" stdout:")[0].strip() or type(exc).__name__
            server.stop()  # a half-started server must not linger into the next attempt
    raise OrchestrationError(
        f"Prefect's temporary server did not start ({len(waits)} tries, waiting {', '.join(f'{w:g}' for w in waits)} "
        f"s; last: {problem}); the machine may be too busy: try again with {TIMEOUT_ENV}=300, or run a Prefect "
        "server (`prefect server start`) and set PREFECT_API_URL=http://127.0.0.1:4200/api")
