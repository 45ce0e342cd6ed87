"""One file policy for everything callqa writes: owner-only (0600 files, 0700 folders), or with
CALLQA_GROUP_READ=1 readable by the owner's group (0640, 0750), whoever writes it and whatever the umask;
and stage results stored as data that a tampered cache cannot turn into code."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner
from reportdata import build_output

from callqa.cli import main
from pipelines.stage_cache import StageCache
from results.lock import folder_lock
from workspace.db import default_location, open_database


def _write_everything(out: Path, elsewhere: Path) -> None:
    build_output(out)  # transcripts, results, tables
    runner = CliRunner()
    for args in (["review", "--results", str(out)],
                 ["queue", "--results", str(out), "--csv", str(elsewhere / "exports" / "q.csv"),
                  "--xlsx", str(elsewhere / "exports" / "q.xlsx")],
                 ["scorecard", "--results", str(out), "--week", "2026-W47"],
                 ["clips", "--results", str(out), "--rule", "forbidden", "--out", str(elsewhere / "clips")]):
        result = runner.invoke(main, args)
        assert result.exit_code == 0, (args, result.output)
    with folder_lock(out, "test"):
        pass
    StageCache(out / ".cache").save("asr", "k" * 16, {"tracks": []})
    open_database(default_location(out)).engine.dispose()  # the review workspace, made and brought up to date


def _modes(*roots: Path) -> dict[str, set[int]]:
    found: dict[str, set[int]] = {"file": set(), "dir": set()}
    for root in roots:
        for path in [root, *root.rglob("*")]:
            kind = "dir" if path.is_dir() else "file"
            found[kind].add(stat.S_IMODE(path.stat().st_mode))
    return found


@pytest.mark.parametrize(("group", "file_mode", "dir_mode"), [(False, 0o600, 0o700), (True, 0o640, 0o750)])
def test_every_file_and_folder_written_follows_one_policy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          group: bool, file_mode: int, dir_mode: int) -> None:
    if group:
        monkeypatch.setenv("CALLQA_GROUP_READ", "1")
    old = os.umask(0o022)  # the usual umask: anything written past the policy would be world-readable
    try:
        out, elsewhere = tmp_path / "a" / "out", tmp_path / "b" / "other"
        _write_everything(out, elsewhere)
    finally:
        os.umask(old)
    kinds = {p.suffix for p in [*out.rglob("*"), *elsewhere.rglob("*")] if p.is_file()}
    assert {".json", ".parquet", ".html", ".csv", ".xlsx", ".sqlite3", ".lock", ".flac"} <= kinds
    assert _modes(out, elsewhere) == {"file": {file_mode}, "dir": {dir_mode}}


def test_a_tampered_stage_cache_is_recomputed_never_run(tmp_path: Path) -> None:
    cache = StageCache(tmp_path / ".cache")
    key = "ab" * 8
    calls = []

    def compute() -> list[int]:
        calls.append(1)
        return [1, 2, 3]

    def decode(value: object) -> list[int]:  # a stage's decoder: data of the wrong shape is an error
        return [int(x) for x in value]  # type: ignore[attr-defined]

    assert cache.cached("asr", key, compute, lambda v: v, decode) == [1, 2, 3]
    path = cache.path("asr", key)
    marker = tmp_path / "pwned"
    # what an attacker with write access to the cache would plant: a pickle that runs a command when loaded
    payload = (b"cos\nsystem\n(S'touch " + str(marker).encode() + b"'\ntR.")
    for planted in (payload, b"\x80\x04\x95" + payload, json.dumps({"format": 1, "key": "other", "value": [9]}).encode(),
                    json.dumps({"format": 1, "key": key, "value": {"__reduce__": "os.system"}}).encode()):
        path.write_bytes(planted)
        assert cache.cached("asr", key, compute, lambda v: v, decode) == [1, 2, 3]
        assert not marker.exists()
    assert len(calls) == 5  # computed again each time the stored entry was not its own data
    assert json.loads(path.read_text(encoding="utf-8")) == {"format": 1, "key": key, "value": [1, 2, 3]}
