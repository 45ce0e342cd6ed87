"""The review site on disk: the queue page, one review page per call, and the queue's exports.

Pages refer to recordings by a path relative to the page, so the folder opens straight from disk (as
long as the recordings stay where they were scored) and can be copied to any static file server.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from qa_checks import Lexicon, load_lexicon
from results.files import remove_leftovers, safe_name, write_text_atomic

from .queue import queue_frame, render_queue, write_queue_csv, write_queue_xlsx
from .review import build_view, load_call, render_review
from .tables import Filters, Tables


@dataclass
class SiteReport:
    dest: Path
    pages: int = 0
    unchanged: int = 0
    errors: list[str] = field(default_factory=list)
    missing_audio: list[str] = field(default_factory=list)
    damaged_tables: list[str] = field(default_factory=list)  # table parts left out (results.store.sound_parts)


def page_name(call_id: str) -> str:
    return f"{safe_name(call_id)}.html"


def relative_url(target: Path, start: Path) -> str:
    return quote(Path(os.path.relpath(target, start)).as_posix())


def _code_stamp() -> float:
    """When the page code last changed: pages older than this are written again."""
    here = Path(__file__).parent
    return max(p.stat().st_mtime for p in [*here.glob("*.py"), *here.glob("templates/*"), *here.glob("static/*")])


def _fresh(page: Path, out_dir: Path, call_id: str, stamp: float) -> bool:
    if not page.exists():
        return False
    built = page.stat().st_mtime
    sources = [out_dir / sub / f"{safe_name(call_id)}.json" for sub in ("results", "transcripts")]
    return built >= stamp and all(not s.exists() or s.stat().st_mtime <= built for s in sources)


def build_site(out_dir: Path, dest: Path | None = None, lexicon: Lexicon | None = None,
               rebuild: bool = False, period: Filters | None = None) -> SiteReport:
    """Write `dest` (default OUT/review): index.html, queue.csv, queue.xlsx and calls/<call>.html.

    A call's page is written again only when its result or transcript is newer than the page (a year of
    calls is not re-rendered after every run), or with `rebuild`. `period` (or any other `Filters`)
    limits the site to those calls: a year of calls is better read a week or a month at a time.
    """
    out_dir = Path(out_dir)
    dest = Path(dest) if dest else out_dir / "review"
    tables = Tables(out_dir)
    lex = lexicon or load_lexicon(None)
    report = SiteReport(dest, damaged_tables=list(tables.problems))
    frame = queue_frame(tables, period)
    pages = dest / "calls"
    remove_leftovers(dest)
    remove_leftovers(pages)
    stamp = _code_stamp()
    for call_id, recording in frame.select("call_id", "recording").iter_rows():
        if not rebuild and _fresh(pages / page_name(call_id), out_dir, call_id, stamp):
            report.unchanged += 1
            continue
        try:
            result, transcript = load_call(out_dir, call_id)
            audio = tables.recording_path(recording)
            if audio is None:
                report.missing_audio.append(f"{call_id}: recording not found ({recording})")
            src = relative_url(audio, pages) if audio else None
            html = render_review(build_view(result, transcript, lex, src), queue_href="../index.html", server=False)
            write_text_atomic(pages / page_name(call_id), html)
            report.pages += 1
        except Exception as exc:  # one broken call must not stop the site
            report.errors.append(f"{call_id}: {type(exc).__name__}: {exc}")
    write_text_atomic(dest / "index.html",
                      render_queue(frame, lambda cid: "calls/" + quote(page_name(cid)), server=False))
    write_queue_csv(frame, dest / "queue.csv")
    write_queue_xlsx(frame, dest / "queue.xlsx")
    return report
