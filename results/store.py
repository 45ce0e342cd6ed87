"""Where results persist: one JSON per call, written atomically, and Parquet tables appended by run.

Layout of an output folder:

    transcripts/<call_id>.json   the CONTRACT.md transcript, with word timings and audio measures
    results/<call_id>.json       the QA result (score, findings, metrics, checklist, what scored it)
    tables/run-<id>/calls.parquet, findings.parquet   one folder per scoring run, moved into place whole
    runs/<id>.json               the run report: every recording or call, done, skipped or failed and why

A transcript is current while the recording and the speech settings are the same (audio hash + settings
fingerprint, kept in the transcript's `audio`); a result is current while its transcript, the lexicons
and the engine are the same (transcript hash + lexicon fingerprint + engine version, kept in the
result's `scoring`). Tables are built from the per-call results that no table holds yet, so a run killed
before its tables still has them written by the next run, and every scoring of a call appears once.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from pathlib import Path
from typing import Any

import polars as pl

from callqa.model import Transcript, transcript_from_dict, transcript_to_dict

from .files import (
    TMP_PREFIX,
    TMP_SUFFIX,
    json_bytes,
    legacy_safe_name,
    make_dirs,
    read_json,
    remove_leftovers,
    safe_name,
    seal,
    sync_dir,
    write_bytes_atomic,
    write_json_atomic,
)
from .schema import CALL_COLUMNS, FINDING_COLUMNS, TABLES, call_row, finding_rows
from .slice_tables import scan as scan_delta
from .storage import is_remote, location

SUBFOLDERS = ("transcripts", "results", "tables", "runs")


def table_files(root: Path, name: str) -> list[Path]:
    if is_remote(root):
        return []  # run folders are written by `callqa run` into a local folder only
    return sorted(Path(root).glob(f"tables/run-*/{name}.parquet"))


# part -> its problem (None: sound), keyed by path, size and modification time: a footer is read once
_CHECKED: dict[tuple[str, int, int], str | None] = {}


def part_problem(path: Path, name: str) -> str | None:
    """What is wrong with one run's part of a table, from its footer: unreadable, not Parquet (truncated,
    overwritten, empty), or columns of another type than the table's. None when it is sound."""
    try:
        st = path.stat()
    except OSError as exc:
        return f"cannot read: {exc.strerror or exc}"
    key = (str(path), st.st_size, st.st_mtime_ns)
    if key not in _CHECKED:
        if len(_CHECKED) > 100_000:
            _CHECKED.clear()
        _CHECKED[key] = _footer_problem(path, TABLES[name])
    return _CHECKED[key]


def _footer_problem(path: Path, expected: dict[str, Any]) -> str | None:
    try:
        schema = pl.read_parquet_schema(path)
    except Exception as exc:  # polars names the Parquet fault, never the file
        return f"not a readable Parquet file ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})"
    wrong = [f"{col} is {dtype}, expected {expected[col]}" for col, dtype in schema.items()
             if col in expected and dtype != expected[col]]
    if wrong:
        return "columns of another type: " + "; ".join(wrong)
    if not {"call_id", "run_id"} <= set(schema):
        return "not a part of this table (no call_id or run_id column)"
    return None


def sound_parts(root: Path, name: str, problems: list[str] | None = None) -> list[Path]:
    """The parts of a table that can be read. Each damaged one is left out and named in `problems` (with
    what to do) when a list is given."""
    good = []
    for f in table_files(root, name):
        problem = part_problem(f, name)
        if problem is None:
            good.append(f)
        elif problems is not None:
            problems.append(f"{f}: {problem}; left out (move it away, then `callqa rescore --results {root}` "
                            "puts its calls' current results back in the tables)")
    return good


def scan_table(root: Path, name: str, problems: list[str] | None = None) -> pl.LazyFrame:
    """A lazy scan of every run's part of a table (`calls` or `findings`); empty with the schema if none.

    Parts written before a column existed read it as null. A damaged part is left out, named in `problems`.
    The rows workers appended to the Delta table (`results/slice_tables.py`) are part of the same table.
    """
    files = sound_parts(root, name, problems)
    schema = TABLES[name]
    parts = [pl.scan_parquet([str(f) for f in files], schema=schema, missing_columns="insert",
                             extra_columns="ignore")] if files else []
    delta = scan_delta(root, name)
    if delta is not None:
        parts.append(delta)
    if not parts:
        return pl.LazyFrame(schema=schema)
    return parts[0] if len(parts) == 1 else pl.concat(parts, how="vertical")


def damaged_parts(root: Path) -> list[str]:
    """Every part of both tables that cannot be read whole, read in full: for naming the file when a scan
    fails past the footers (a damaged page in the middle of a file)."""
    out = []
    for name in TABLES:
        for f in table_files(root, name):
            problem = part_problem(f, name)
            if problem is None:
                try:
                    pl.read_parquet(f)
                except Exception as exc:
                    problem = f"damaged inside ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})"
            if problem is not None:
                out.append(f"{f}: {problem}")
    return out


def newest_scorings(calls: pl.LazyFrame) -> pl.LazyFrame:
    """(call_id, run_id) of each call's newest scoring, from those two columns only: a year of calls is
    grouped without reading the rest of its columns. Run ids begin with their start time, so the newest
    sorts last."""
    return calls.group_by("call_id").agg(pl.col("run_id").max())


def latest_calls(frame: pl.LazyFrame) -> pl.LazyFrame:
    """One row per call: the newest scoring (a re-scored call keeps its latest run). A run's rows are
    tabled once, so (call_id, run_id) picks one row."""
    return frame.join(newest_scorings(frame), on=["call_id", "run_id"], how="semi")


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class ResultStore:
    def __init__(self, root: str | os.PathLike[str]):
        self.root = location(root)  # a local folder, or a URL of shared storage (results/storage.py)
        for sub in SUBFOLDERS:
            make_dirs(self.root / sub)

    def clean_leftovers(self) -> None:
        """Remove the temporary files of a killed run (never read). Call once, before a run starts:
        during a run they are the files other calls are writing."""
        remove_leftovers(self.root, "*")

    def transcript_path(self, call_id: str) -> Path:
        return self._call_file("transcripts", call_id)

    def result_path(self, call_id: str) -> Path:
        return self._call_file("results", call_id)

    def _call_file(self, sub: str, call_id: str) -> Path:
        """The call's file in `sub`. A file that an earlier version stored under the id's old name (which
        other ids could share) is moved to the new one, when it is this call's."""
        path = self.root / sub / f"{safe_name(call_id)}.json"
        old = self.root / sub / f"{legacy_safe_name(call_id)}.json"
        if old != path and not path.exists() and old.is_file():
            data = self._read(old)
            if data is not None and str(data.get("call_id")) == call_id:
                os.replace(old, path)
        return path

    # ---- per-call files ---------------------------------------------------------------------------
    def _read(self, path: Path) -> dict[str, Any] | None:
        try:
            data = read_json(path)
        except (OSError, ValueError, RecursionError):  # unreadable, not JSON, or nested past reading
            return None
        return data if isinstance(data, dict) else None

    def read_result(self, call_id: str) -> dict[str, Any] | None:
        return self._read(self.result_path(call_id))

    def read_transcript(self, call_id: str) -> tuple[Transcript, str]:
        """The stored transcript and the sha256 of its file (the scoring key). Raises OSError or
        TranscriptError/ValueError naming nothing: callers name the call."""
        raw = self.transcript_path(call_id).read_bytes()
        return transcript_from_dict(json.loads(raw.decode("utf-8"))), sha256_bytes(raw)

    def transcript_current(self, call_id: str, audio_sha256: str, settings: str) -> bool:
        """Whether this call's transcript was made from this audio with these speech settings."""
        data = self._read(self.transcript_path(call_id))
        audio = (data or {}).get("audio") or {}
        return audio.get("sha256") == audio_sha256 and audio.get("settings") == settings

    def result_current(self, call_id: str, key: dict[str, str]) -> bool:
        """Whether this call's result was scored from the same transcript, lexicons and engine (`key`)."""
        scoring = (self.read_result(call_id) or {}).get("scoring") or {}
        return all(scoring.get(k) == v for k, v in key.items())

    def save_transcript(self, transcript: Transcript) -> str:
        """Write the transcript; returns the sha256 of what was written (its scoring key)."""
        data = json_bytes(transcript_to_dict(transcript))
        write_bytes_atomic(self.transcript_path(transcript.call_id), data)
        return sha256_bytes(data)

    def save_result(self, call_id: str, result: dict[str, Any]) -> None:
        write_json_atomic(self.result_path(call_id), result)

    def save_call(self, transcript: Transcript, result: dict[str, Any]) -> None:
        """The transcript first: a result is only ever next to the transcript it was scored from."""
        self.save_transcript(transcript)
        self.save_result(transcript.call_id, result)

    def save_run(self, run_id: str, report: dict[str, Any]) -> Path:
        path = self.root / "runs" / f"{run_id}.json"
        write_json_atomic(path, report)
        return path

    def call_ids(self, problems: list[str] | None = None) -> list[str]:
        """Every call with a stored transcript (its id as written in the file). A transcript file that
        cannot be read as one is named in `problems` when a list is given."""
        ids = []
        for path in sorted((self.root / "transcripts").glob("*.json")):
            data = self._read(path)
            if data and isinstance(data.get("call_id"), (str, int)) and not isinstance(data["call_id"], bool):
                ids.append(str(data["call_id"]))
            elif problems is not None:
                problems.append(f"{path}: not a readable transcript (damaged, or not JSON with a call_id)")
        return ids

    # ---- tables ---------------------------------------------------------------------------------
    def scan(self, name: str) -> pl.LazyFrame:
        return scan_table(self.root, name)

    def tabled_results(self) -> set[tuple[str, str]]:
        """(call_id, result run) pairs already in the tables. A damaged part would hide its calls and have
        them added twice: it is a TableError (quarantine_damaged_tables moves such parts away first)."""
        problems: list[str] = []
        frame = scan_table(self.root, "calls", problems).select("call_id", "run_id").collect()
        sound_parts(self.root, "findings", problems)
        if problems:
            raise TableError("; ".join(problems))
        return set(zip(frame["call_id"].to_list(), frame["run_id"].to_list(), strict=True))

    def quarantine_damaged_tables(self) -> list[str]:
        """Move every run folder with a damaged part to tables/damaged/ (kept, never deleted, out of every
        scan), so the next sync adds its calls' current results again; returns a note per folder moved."""
        notes = []
        damaged_dir = self.root / "tables" / "damaged"
        for folder in sorted((self.root / "tables").glob("run-*")):
            problems = [f"{part.name}: {problem}" for name in TABLES
                        if (part := folder / f"{name}.parquet").exists() and (problem := part_problem(part, name))]
            if not problems:
                continue
            make_dirs(damaged_dir)
            target = damaged_dir / f"{folder.name}-{uuid.uuid4().hex[:6]}"
            os.replace(folder, target)
            notes.append(f"{folder}: {'; '.join(problems)}; moved to {target} and its calls' current results "
                         "added to the tables again")
        if notes:
            sync_dir(self.root / "tables")
        return notes

    def sync_tables(self, run_id: str, problems: list[str] | None = None) -> int:
        """Add every per-call result that no table holds yet; returns the number of calls added.

        The result's own run id travels into the table, so a call re-scored in a later run (new audio,
        new lexicons) is added again under that run and readers keep its newest row. A result file whose
        content does not fit the tables (edited by hand, damaged) is left out and named in `problems`.
        """
        have = self.tabled_results()
        calls: list[dict[str, Any]] = []
        findings: list[dict[str, Any]] = []
        for path in sorted((self.root / "results").glob("*.json")):
            result = self._read(path)
            if result is None or "call_id" not in result:
                continue
            try:
                row = call_row(result)
                rows = list(finding_rows(result))
                problem = _row_problem(row, CALL_COLUMNS) or next(
                    (p for r in rows if (p := _row_problem(r, FINDING_COLUMNS))), None)
            except (KeyError, TypeError, AttributeError, ValueError) as exc:
                problem = f"{type(exc).__name__}: {exc}"
            if problem is not None:
                if problems is not None:
                    problems.append(f"{path}: does not fit the tables ({problem}); left out of them")
                continue
            if (row["call_id"], row["run_id"]) in have:
                continue
            calls.append(row)
            findings.extend(rows)
        if not calls:
            return 0
        tmp = self.root / "tables" / f"{TMP_PREFIX}run-{run_id}-{uuid.uuid4().hex[:6]}{TMP_SUFFIX}"
        make_dirs(tmp)
        pl.DataFrame(calls, schema=CALL_COLUMNS).write_parquet(tmp / "calls.parquet")
        pl.DataFrame(findings, schema=FINDING_COLUMNS).write_parquet(tmp / "findings.parquet")
        for part in tmp.iterdir():
            seal(part)
        final = self.root / "tables" / f"run-{run_id}"
        if final.exists():  # the same run syncing twice: a fresh name keeps both parts whole
            final = self.root / "tables" / f"run-{run_id}-{uuid.uuid4().hex[:6]}"
        os.replace(tmp, final)  # both tables appear together or not at all
        sync_dir(final.parent)
        return len(calls)


class TableError(RuntimeError):
    """A table part that cannot be read where writing on would add calls twice; names the file."""


_PYTHON_TYPES: dict[Any, tuple[type, ...]] = {pl.Utf8: (str,), pl.Float64: (int, float), pl.Int64: (int,),
                                              pl.Boolean: (bool,)}
_INT64 = 2**63


def _row_problem(row: dict[str, Any], schema: dict[str, Any]) -> str | None:
    """Why a row does not fit the table's columns (None when it does)."""
    for col, dtype in schema.items():
        value = row.get(col)
        if value is None:
            continue
        kinds = _PYTHON_TYPES[dtype]
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            return f"{col} is {type(value).__name__}"
        if isinstance(value, int) and not isinstance(value, bool) and not -_INT64 <= value < _INT64:
            return f"{col} is too large"
    return None
