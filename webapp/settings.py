"""What the web app is started with."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from workspace.cases import CaseSettings

LOCAL_HOSTS = ("127.0.0.1", "localhost")


@dataclass(frozen=True)
class WebSettings:
    results: Path  # the `callqa run` output folder
    database: str  # the workspace database: a SQLite path or a database URL
    recordings: Path | None  # the one folder recordings are served from; None serves no audio
    allowed_hosts: tuple[str, ...] = LOCAL_HOSTS  # Host header values answered (DNS rebinding gets 400)
    trusted_origins: tuple[str, ...] = ()  # other origins allowed to post (e.g. https://qa.example.com behind TLS)
    secure_cookies: bool = False  # set behind HTTPS: the session cookie then travels over TLS only
    lexicons: Path | None = None
    max_body_bytes: int = 64 * 1024
    body_timeout_s: float = 10.0  # a request body that stops arriving is answered 408 after this long
    cases: CaseSettings = field(default_factory=CaseSettings)
    case_sync_every_s: float = 30.0  # how often pages look for new calls that need a follow-up case

    def __post_init__(self) -> None:
        object.__setattr__(self, "results", Path(self.results))
        if self.recordings is not None:
            object.__setattr__(self, "recordings", Path(self.recordings).resolve())
