"""A small self-hosted server for the review site: the same pages, live from the result tables,
recordings streamed with byte ranges (so the player can seek), filtered exports, and the analysts'
review decisions stored in SQLite.

Routes:
    GET  /                       the queue
    GET  /calls/<call>.html      a call's review page
    GET  /audio/<call>           the call's recording (HTTP Range supported)
    GET  /export.csv|xlsx?...    the queue under the filters in the query (rule, severity, agent, team,
                                 questionnaire, from, to)
    GET  /api/reviews?call_id=   decisions on the findings of a call's newest scoring (carried over from
                                 earlier scorings where the same finding is found again), and those made
                                 on findings of an earlier scoring that the newest no longer has
    POST /api/reviews            a decision: {call_id, finding_key, rule, verdict, comment, reviewer, run_id}
"""

from __future__ import annotations

import datetime as dt
import json
import mimetypes
import re
import tempfile
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

from qa_checks import Lexicon, load_lexicon
from results.schema import run_of
from workspace.decisions import Review, ReviewError, ReviewStore, review_from_dict

from .queue import queue_frame, render_queue, write_queue_csv, write_queue_xlsx
from .review import CallNotFound, build_view, finding_key, load_call, load_result, render_review
from .site import page_name
from .tables import Filters, ReportError, Tables, resolve_recording

AUDIO_TYPES = {".flac": "audio/flac", ".wav": "audio/wav", ".mp3": "audio/mpeg", ".m4a": "audio/mp4",
               ".ogg": "audio/ogg", ".opus": "audio/ogg", ".aac": "audio/aac"}
MAX_BODY = 64 * 1024
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
_CHUNK = 256 * 1024


def filters_from_query(query: dict[str, list[str]]) -> Filters:
    def one(name: str) -> tuple[str, ...]:
        return tuple(v for v in query.get(name, []) if v)

    def day(name: str) -> dt.date | None:
        value = (query.get(name) or [""])[0]
        if not value:
            return None
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            raise ReportError(f"'{name}': not a date (YYYY-MM-DD): {value!r}") from None

    return Filters(rule=one("rule"), severity=one("severity"), agent=one("agent"), team=one("team"),
                   questionnaire=one("questionnaire"), date_from=day("from"), date_to=day("to"),
                   week=(query.get("week") or [None])[0])


class ReviewApp:
    """What the handler needs: where results are, the lexicon, the review database."""

    def __init__(self, out_dir: Path, lexicon: Lexicon | None = None, db_path: Path | None = None):
        self.out_dir = Path(out_dir)
        Tables(self.out_dir)  # fail at start, not on the first request, when there are no tables
        self.lex = lexicon or load_lexicon(None)
        self.reviews = ReviewStore(db_path or self.out_dir / "reviews.sqlite3")

    def tables(self) -> Tables:
        return Tables(self.out_dir)  # lazy and cheap: each request sees the newest runs


def make_handler(app: ReviewApp) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "callqa"

        def log_message(self, format: str, *args: Any) -> None:  # quiet: errors are answered, not logged
            pass

        # ---- responses ----------------------------------------------------------------------------
        def send_body(self, status: int, body: bytes, content_type: str, extra: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            for k, v in (extra or {}).items():
                self.send_header(k, v)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def send_html(self, html: str) -> None:
            self.send_body(200, html.encode("utf-8"), "text/html; charset=utf-8")

        def send_json(self, data: Any, status: int = 200) -> None:
            self.send_body(status, json.dumps(data, ensure_ascii=False).encode("utf-8"), "application/json")

        def fail(self, status: int, message: str) -> None:
            self.send_json({"error": message}, status)

        # ---- routes ---------------------------------------------------------------------------------
        def do_HEAD(self) -> None:
            self.do_GET()

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            path, query = unquote(url.path), parse_qs(url.query)
            try:
                if path in ("/", "/index.html"):  # ?week=2026-W47 or ?from=…&to=… narrows the page to a period
                    frame = queue_frame(app.tables(), filters_from_query(query))
                    self.send_html(render_queue(frame, lambda cid: "calls/" + quote(page_name(cid)), server=True,
                                                reviews=app.reviews.reviewed_counts()))
                elif path.startswith("/calls/") and path.endswith(".html"):
                    self.review_page(path[len("/calls/"):-len(".html")])
                elif path.startswith("/audio/"):
                    self.audio(path[len("/audio/"):])
                elif path in ("/export.csv", "/export.xlsx"):
                    self.export(path.rsplit(".", 1)[1], filters_from_query(query))
                elif path == "/api/reviews":
                    self.send_json(self.decisions((query.get("call_id") or [""])[0]))
                else:
                    self.fail(404, f"not found: {path}")
            except (CallNotFound, FileNotFoundError) as exc:
                self.fail(404, str(exc))
            except ReportError as exc:
                self.fail(400, str(exc))
            except (BrokenPipeError, ConnectionResetError):
                pass  # the browser stopped reading (a seek, a closed tab)

        def do_POST(self) -> None:
            if urlsplit(self.path).path != "/api/reviews":
                self.fail(404, "not found")
                return
            length = int(self.headers.get("Content-Length") or 0)
            if length <= 0 or length > MAX_BODY:
                self.fail(400, f"a review must have a JSON body of at most {MAX_BODY} bytes")
                return
            try:
                review = review_from_dict(json.loads(self.rfile.read(length)))
                review = review.on(self.check_finding(review))
            except json.JSONDecodeError as exc:
                self.fail(400, f"malformed JSON: {exc}")
                return
            except ReviewError as exc:
                self.fail(400, str(exc))
                return
            except CallNotFound as exc:
                self.fail(404, str(exc))
                return
            self.send_json(app.reviews.add(review).to_dict(), 201)

        # ---- handlers -------------------------------------------------------------------------------
        def check_finding(self, review: Review) -> dict[str, Any]:
            """The finding of the call's newest scoring that the decision is about."""
            result = load_result(app.out_dir, review.call_id)
            found = {finding_key(i, f): f for i, f in enumerate(result.get("findings", []))}
            finding = found.get(review.finding_key)
            if finding is None or finding["rule"] != review.rule:
                raise ReviewError(f"call {review.call_id!r} has no finding {review.finding_key!r} of rule {review.rule!r}")
            return finding

        def decisions(self, call_id: str) -> dict[str, Any]:
            result = load_result(app.out_dir, call_id)
            findings = result.get("findings", [])
            keys = [finding_key(i, f) for i, f in enumerate(findings)]
            placed = app.reviews.for_scoring(call_id, findings, run_of(result), keys)
            return {"findings": [dict(r.to_dict(), finding_key=k, carried=k in placed.carried)
                                 for k, r in placed.on_findings.items()],
                    "earlier": [r.to_dict() for r in placed.earlier]}

        def review_page(self, name: str) -> None:
            # page names are call ids made file-safe, as the result files are named
            result, transcript = load_call(app.out_dir, name)
            view = build_view(result, transcript, app.lex, "/audio/" + quote(result["call_id"]))
            self.send_html(render_review(view, queue_href="/", server=True))

        def audio(self, call_id: str) -> None:
            # asked again for every seek: the result alone says where the recording is, no tables needed
            recording = load_result(app.out_dir, call_id).get("recording")
            path = resolve_recording(app.out_dir, recording)
            if path is None:
                raise FileNotFoundError(f"call {call_id!r}: recording not found ({recording})")
            size = path.stat().st_size
            ctype = AUDIO_TYPES.get(path.suffix.lower()) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            start, end = 0, size - 1
            status = HTTPStatus.OK
            m = _RANGE.match(self.headers.get("Range", ""))
            if m and (m.group(1) or m.group(2)):
                if m.group(1):
                    start = int(m.group(1))
                    end = min(int(m.group(2)), size - 1) if m.group(2) else size - 1
                else:  # the last n bytes
                    start = max(0, size - int(m.group(2)))
                if start > end or start >= size:
                    self.send_body(416, b"", ctype, {"Content-Range": f"bytes */{size}"})
                    return
                status = HTTPStatus.PARTIAL_CONTENT
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Accept-Ranges", "bytes")
            self.send_header("Content-Length", str(end - start + 1))
            if status == HTTPStatus.PARTIAL_CONTENT:
                self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
            self.end_headers()
            if self.command == "HEAD":
                return
            with path.open("rb") as fh:
                fh.seek(start)
                left = end - start + 1
                while left > 0:
                    chunk = fh.read(min(_CHUNK, left))
                    if not chunk:
                        break
                    self.wfile.write(chunk)
                    left -= len(chunk)

        def export(self, kind: str, filters: Filters) -> None:
            frame = queue_frame(app.tables(), filters)
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / f"queue.{kind}"
                (write_queue_csv if kind == "csv" else write_queue_xlsx)(frame, path)
                body = path.read_bytes()
            ctype = ("text/csv; charset=utf-8" if kind == "csv"
                     else "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
            self.send_body(200, body, ctype, {"Content-Disposition": f'attachment; filename="callqa-queue.{kind}"'})

    return Handler


def make_server(out_dir: Path, host: str = "127.0.0.1", port: int = 8765, lexicon: Lexicon | None = None,
                db_path: Path | None = None) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer((host, port), make_handler(ReviewApp(out_dir, lexicon, db_path)))
    server.daemon_threads = True
    return server


def serve_in_thread(server: ThreadingHTTPServer) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, name="callqa-review", daemon=True)
    thread.start()
    return thread
