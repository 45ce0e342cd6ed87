"""The command-line face of callqa: a thin layer over the checks (and, later, the pipeline and reports)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from .model import CallResult
from .transcripts import FileError, read_transcripts

_SEVERITY_STYLE = {"critical": "bold red", "major": "red", "minor": "yellow", "info": "dim"}


def _fmt_time(seconds: float) -> str:
    tenths = round(seconds * 10)
    m, t = divmod(tenths, 600)
    return f"{m:02d}:{t / 10:04.1f}"


def render_result(console: Console, result: CallResult) -> None:
    verdict = Text("PASS", style="bold green") if result.passed else Text("FAIL", style="bold red")
    q = result.questionnaire if isinstance(result.questionnaire, str) else "+".join(result.questionnaire)
    dims = result.dimensions
    head = Text.assemble(
        (f"{result.call_id}", "bold"), "  ", verdict, f"  score {result.score:g}",
        f"  合规 {dims['compliance']:g} · 专业 {dims['professionalism']:g} · 体验 {dims['customer_experience']:g}",
        f"  问卷 {q} ({result.questionnaire_source})",
    )
    console.print(head)
    m = result.metrics
    console.print(
        f"  语速 {m.get('agent_chars_per_min')} 字/分钟 · 谢谢 {m.get('thanks_count')} 次"
        f" · 问题 {m.get('items_asked')}/{m.get('items_total')}"
        + (f" · 提前结束: {m['early_end']}" if m.get("early_end") else ""),
        style="dim",
    )
    if not result.findings:
        console.print("  no findings\n", style="green")
        return
    table = Table(show_header=True, header_style="bold", box=None, padding=(0, 1))
    for col in ("severity", "rule", "time", "who", "evidence", "why"):
        table.add_column(col, overflow="fold")
    for f in result.findings:
        rule = f.rule + (f" [{f.item}]" if f.item else "")
        sev = f.severity if f.kind == "violation" else f"{f.severity} alert"
        table.add_row(  # Text, not markup: evidence and item ids may hold [brackets]
            Text(sev, style=_SEVERITY_STYLE.get(f.severity, "")),
            Text(rule),
            Text(f"{_fmt_time(f.start)}–{_fmt_time(f.end)}"),
            Text(f.speaker or ""),
            Text((f.evidence[:40] + "…") if len(f.evidence) > 40 else f.evidence),
            Text(f.message),
        )
    console.print(table)
    console.print()


@click.group()
@click.version_option(package_name="callqa")
def main() -> None:
    """callqa: automated QA of Chinese life-insurance callback calls (电话回访)."""


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per call (JSON Lines).")
@click.option("--lexicons", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Lexicon folder (default: the bundled lexicons/, or $CALLQA_LEXICONS).")
def check(paths: tuple[Path, ...], as_json: bool, lexicons: Path | None) -> None:
    """Score transcript files (CONTRACT.md JSON) or folders of them against the rulebook.

    Exit status: 0 when every file was scored, 1 when any file could not be read or checked
    (each such file is named on stderr; the others are still scored), 2 on a usage error.
    """
    from qa_checks import LexiconError, check_call, load_lexicon

    def error(message: str) -> None:  # plain lines on stderr: one per file, never wrapped
        click.echo(f"callqa: error: {message}", err=True)

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
        result.source = str(path)
        n_ok += 1
        n_failed += not result.passed
        if as_json:
            sys.stdout.write(json.dumps(result.to_dict(), ensure_ascii=False) + "\n")
        else:
            render_result(out, result)
    summary = f"{n_ok} calls scored, {n_failed} failed QA, {n_err} files with errors"
    if as_json:
        click.echo(summary, err=True)
    else:
        out.print(Text(summary, style="bold"))
    sys.exit(1 if n_err else 0)


if __name__ == "__main__":
    main()
