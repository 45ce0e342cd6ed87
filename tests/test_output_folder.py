"""An output folder stays whole: distinct call ids never share a file, one writer at a time, damaged
table parts and result files named (and set aside) instead of ending a command with a traceback."""

from __future__ import annotations

import json
import re
import shutil
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from reportdata import build_output

from callqa.cli import main
from callqa.model import transcript_from_dict
from pipelines.flow import RunReport, one_recording_per_call
from pipelines.manifest import CallMeta
from results.files import legacy_safe_name, safe_name
from results.lock import FolderBusy, folder_lock, holder_of
from results.store import ResultStore


@pytest.fixture(scope="module")
def scored(tmp_path_factory) -> Path:
    return build_output(tmp_path_factory.mktemp("scored") / "out")


@pytest.fixture
def out(scored, tmp_path) -> Path:
    return Path(shutil.copytree(scored, tmp_path / "out"))


def invoke(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(main, list(args))


# ---- call ids and file names -------------------------------------------------------------------------

def test_ids_that_look_alike_get_distinct_file_names() -> None:
    ids = ["call 1", "call_1", "call/1", "call:1", "call_1.", ".call_1", "", " ", "x" * 500, "x" * 501, "呼叫 1",
           "呼叫_1", "../../etc/passwd", "a\x1b[31m", "CON"]
    names = [safe_name(i) for i in ids]
    assert len(set(names)) == len(ids)
    for name in names:
        assert "/" not in name and "\x00" not in name and not name.startswith(".")
        assert len(f"{name}.json".encode()) <= 255
    assert safe_name("call_1") == "call_1" and safe_name("C20261116-0001") == "C20261116-0001"  # safe ids stay
    assert safe_name("call 1").startswith("call_1~")


def test_two_calls_whose_ids_look_alike_are_both_stored(tmp_path: Path) -> None:
    store = ResultStore(tmp_path)
    for call_id in ("call 1", "call_1"):
        store.save_transcript(transcript_from_dict({"call_id": call_id, "segments": []}))
    assert sorted(store.call_ids()) == ["call 1", "call_1"]
    assert store.read_transcript("call 1")[0].call_id == "call 1"
    assert store.read_transcript("call_1")[0].call_id == "call_1"


def test_a_file_stored_under_the_old_name_is_moved_to_its_own(tmp_path: Path) -> None:
    store = ResultStore(tmp_path)
    old = tmp_path / "transcripts" / f"{legacy_safe_name('call 1')}.json"
    old.write_text(json.dumps({"call_id": "call 1", "segments": []}), encoding="utf-8")
    assert store.read_transcript("call 1")[0].call_id == "call 1"
    assert not old.exists() and store.transcript_path("call 1").exists()
    # a file under that name that is another call's stays where it is
    old.write_text(json.dumps({"call_id": "call_1", "segments": []}), encoding="utf-8")
    assert not store.transcript_path("call 1").with_name("nothing").exists()
    store.transcript_path("call:1")
    assert old.exists()


def test_a_second_recording_with_the_same_call_id_fails_naming_both() -> None:
    report = RunReport("r", "now", {})
    calls = [("a/call1.wav", CallMeta("call1")), ("b/call1.wav", CallMeta("call1")),
             ("c/call 2.wav", CallMeta("call 2")), ("c/call_2.wav", CallMeta("call_2"))]
    kept = one_recording_per_call(calls, report)
    assert [p for p, _ in kept] == ["a/call1.wav", "c/call 2.wav", "c/call_2.wav"]
    (failed,) = report.outcomes
    assert failed.path == "b/call1.wav" and failed.status == "failed"
    assert "call id 'call1' is also the id of a/call1.wav" in failed.error
    (note,) = report.notes
    assert "'call 2', 'call_2'" in note and safe_name("call 2") in note


# ---- one writer at a time --------------------------------------------------------------------------------

def test_a_second_writer_stops_naming_the_holder(out: Path, prefect_server: None) -> None:
    with folder_lock(out, "callqa run recordings --out out"):
        assert holder_of(out) is not None and holder_of(out).command == "callqa run recordings --out out"
        result = invoke("rescore", "--results", str(out))
        assert result.exit_code == 3, result.output
        assert re.search(r"is in use by another callqa command \(`callqa run recordings --out out`, process \d+",
                         result.stderr)
        assert "--wait" in result.stderr
        result = invoke("run", str(Path(__file__).parent.parent / "audio_fixtures" / "mono_clean.wav"),
                        "--out", str(out))
        assert result.exit_code == 3 and "in use by another callqa command" in result.stderr
        assert invoke("rescore", "--results", str(out), "--dry-run").exit_code == 0  # a dry run writes nothing
        with pytest.raises(FolderBusy), folder_lock(out, "another"):
            pass
    assert holder_of(out) is None


def test_with_wait_the_second_writer_waits_for_the_first(out: Path, prefect_server: None) -> None:
    held = threading.Event()
    released_at: list[float] = []

    def first() -> None:
        with folder_lock(out, "callqa rescore (first)"):
            held.set()
            time.sleep(1.5)
            released_at.append(time.monotonic())

    thread = threading.Thread(target=first)
    thread.start()
    held.wait(10)
    result = invoke("rescore", "--results", str(out), "--wait")
    done_at = time.monotonic()
    thread.join()
    assert result.exit_code == 0, result.output
    assert "waiting:" in result.stderr and "callqa rescore (first)" in result.stderr
    assert released_at and done_at >= released_at[0]


# ---- damaged tables and results ------------------------------------------------------------------------

def _damage(out: Path, data: bytes) -> Path:
    part = sorted(out.glob("tables/run-*/findings.parquet"))[0]
    part.write_bytes(data)
    return part


@pytest.mark.parametrize("damage", [b"", b"not parquet at all", None])
def test_a_damaged_table_part_is_named_and_left_out_by_readers(out: Path, damage: bytes | None) -> None:
    part = sorted(out.glob("tables/run-*/findings.parquet"))[0]
    _damage(out, part.read_bytes()[: len(part.read_bytes()) // 2] if damage is None else damage)
    for command in (["queue", "--results", str(out)], ["scorecard", "--results", str(out), "--week", "2026-W47"]):
        result = invoke(*command)
        assert result.exception is None or isinstance(result.exception, SystemExit), result.output
        assert f"callqa: warning: {part}: not a readable Parquet file" in result.stderr, (command, result.stderr)
        assert "left out" in result.stderr
    assert "5 calls" in invoke("queue", "--results", str(out)).stdout  # the calls are still all shown


def test_a_rescore_sets_a_damaged_part_aside_and_puts_its_calls_back(out: Path, prefect_server: None) -> None:
    part = _damage(out, b"garbage")
    result = invoke("rescore", "--results", str(out))
    assert result.exit_code == 0, result.output
    moved = list((out / "tables" / "damaged").glob("run-*/findings.parquet"))
    assert moved and moved[0].read_bytes() == b"garbage"  # kept, never deleted
    assert not part.exists()
    assert f"{part.parent}: findings.parquet: not a readable Parquet file" in result.stderr
    assert "5 added to the tables" in result.stdout
    queue = invoke("queue", "--results", str(out))
    assert queue.exit_code == 0 and "warning" not in queue.stderr and "5 calls" in queue.stdout


def test_a_part_damaged_inside_is_named_when_read(out: Path) -> None:
    import polars as pl

    part = sorted(out.glob("tables/run-*/calls.parquet"))[0]
    frame = pl.read_parquet(part)
    # a valid footer over a damaged column chunk: replace the bytes of the page data in the middle
    data = bytearray(part.read_bytes())
    middle = len(data) // 3
    data[middle : middle + 64] = b"\xff" * 64
    part.write_bytes(bytes(data))
    try:
        pl.read_parquet(part)
    except Exception:
        pass
    else:
        pytest.skip("this damage happened to leave the file readable")
    result = invoke("queue", "--results", str(out))
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert str(part) in result.stderr
    assert frame.height == 5


def test_a_result_file_that_does_not_fit_the_tables_is_named(out: Path, prefect_server: None) -> None:
    result_file = sorted((out / "results").glob("*.json"))[0]
    data = json.loads(result_file.read_text(encoding="utf-8"))
    data["score"] = "high"
    data["scoring"]["run_id"] = "20990101T000000-edited"  # not in the tables yet
    result_file.write_text(json.dumps(data), encoding="utf-8")
    outcome = invoke("rescore", "--results", str(out), "--rule", "nothing.such")
    assert "Traceback" not in outcome.output
    from pipelines.flow import rescore

    report = rescore(str(out), [])
    assert any(str(result_file) in n and "does not fit the tables (score is str)" in n for n in report.notes)


def test_damaged_stored_files_are_named_not_skipped(out: Path, prefect_server: None) -> None:
    transcript = sorted((out / "transcripts").glob("*.json"))[0]
    transcript.write_text('{"call_id": "x", "segments": [], "deep": ' + "[" * 100_000 + "]" * 100_000 + "}")
    result = invoke("rescore", "--results", str(out))
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert f"callqa: error: {transcript}: not a readable transcript" in result.stderr
    assert "4 calls selected" in result.stdout  # the others still scored (or current)


def test_a_file_where_a_folder_belongs_and_a_damaged_review_database_are_named(out: Path) -> None:
    shutil.rmtree(out / "tables")
    (out / "tables").write_text("not a folder")
    result = invoke("rescore", "--results", str(out))
    assert result.exit_code == 2 and f"callqa: error: {out / 'tables'}: File exists" in result.stderr
    (out / "reviews.sqlite3").write_bytes(b"not a database" * 100)
    result = invoke("reviews", "--results", str(out))
    assert result.exit_code == 2 and "not a review database" in result.stderr and "Traceback" not in result.output


def test_the_same_recording_named_twice_is_one_call(tmp_path: Path) -> None:
    wav = tmp_path / "a.wav"
    wav.write_bytes(b"RIFF")
    report = RunReport("r", "now", {})
    kept = one_recording_per_call([(str(wav), CallMeta("a")), (str(tmp_path / "." / "a.wav"), CallMeta("a"))], report)
    assert len(kept) == 1 and not report.outcomes and "given more than once" in report.notes[0]


def test_control_characters_in_the_tables_never_reach_the_terminal(out: Path, tmp_path: Path) -> None:
    store = ResultStore(out)
    result = json.loads(sorted((out / "results").glob("*.json"))[0].read_text(encoding="utf-8"))
    result.update(call_id="C\x1b[2J\x1b]0;owned\x07\u202eX", agent_id="A\x1b[31m", team="[red]T[/red]")
    result["scoring"]["run_id"] = "20991231T000000-evil"
    store.save_result(result["call_id"], result)
    assert store.sync_tables("20991231T000000-evil") == 1
    wide = {"COLUMNS": "400"}  # no cell wrapped, so what is shown can be read back whole
    shown = CliRunner().invoke(main, ["queue", "--results", str(out), "--limit", "50"], env=wide).output
    for ch in ("\x1b", "\x07", "\u202e"):
        assert ch not in shown
    assert "\\x1b" in shown and "[red]T[/red]" in shown  # shown as written, not obeyed or read as markup
    lexicons = Path(shutil.copytree(Path(__file__).resolve().parents[1] / "lexicons", tmp_path / "lexicons"))
    rules = (lexicons / "rules.yaml").read_text(encoding="utf-8").replace("title: 模糊性语言", 'title: "模糊\\e[5m"')
    (lexicons / "rules.yaml").write_text(rules, encoding="utf-8")
    shown = CliRunner().invoke(main, ["rules", "--lexicons", str(lexicons)], env=wide).output
    assert "\x1b" not in shown and "模糊\\x1b[5m" in shown
