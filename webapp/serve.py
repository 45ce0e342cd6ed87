"""Serving the app with uvicorn: in the foreground (`callqa serve`) or in a thread (tests, benchmarks)."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass

import uvicorn
from fastapi import FastAPI

from workspace.roles import Role
from workspace.store import Workspace
from workspace.users import new_password

FIRST_ADMIN = "admin"


def first_admin(workspace: Workspace) -> tuple[str, str] | None:
    """A workspace without users gets an administrator with a random password, returned to be shown once
    (its hash is all that is kept). None when there are users already."""
    if workspace.users.count():
        return None
    password = new_password()
    workspace.users.add(FIRST_ADMIN, Role.ADMIN, password)
    return FIRST_ADMIN, password


def config(app: FastAPI, host: str, port: int, sock: socket.socket | None = None) -> uvicorn.Config:
    # a backlog far above the number of concurrent clients a QA team has; keep-alive short; no server banner.
    # uvicorn's own access log is off: the audit log records who reached which recording
    return uvicorn.Config(app, host=host, port=port, backlog=2048, timeout_keep_alive=5, server_header=False,
                          access_log=False, log_level="warning", proxy_headers=True, lifespan="on",
                          h11_max_incomplete_event_size=32 * 1024)


def run(app: FastAPI, host: str, port: int) -> None:
    uvicorn.Server(config(app, host, port)).run()


@dataclass
class ServerThread:
    """The app served on a free loopback port in a background thread."""

    app: FastAPI
    host: str = "127.0.0.1"
    port: int = 0

    def __post_init__(self) -> None:
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.bind((self.host, self.port))
        self.port = self.socket.getsockname()[1]
        self.server = uvicorn.Server(config(self.app, self.host, self.port))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True,
                                       name="callqa-web")

    @property
    def base(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 20.0) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the web server did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.socket.close()
