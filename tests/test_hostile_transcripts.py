"""`callqa check` on hostile input: every bad file is named with its problem, the rest are scored, exit 1;
nothing from a file reaches the terminal as a control sequence."""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path

from click.testing import CliRunner

from callqa.cli import main

SAMPLE = Path(__file__).resolve().parent.parent / "samples" / "transcripts" / "C20261116-0001_clean.json"


def good(**changes: object) -> dict:
    data = json.loads(SAMPLE.read_text(encoding="utf-8"))
    data.update(changes)
    return data


def first_segment(**changes: object) -> dict:
    data = good()
    data["segments"] = [dict(data["segments"][0], **changes)]
    return data


def check(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["check", *args])
    return result.exit_code, result.stdout, result.stderr


def test_hostile_json_and_links_are_named_and_the_rest_scored(tmp_path: Path) -> None:
    (tmp_path / "a_good.json").write_text(json.dumps(good(call_id="GOOD-1")), encoding="utf-8")
    (tmp_path / "deep.json").write_text('{"call_id": "D", "segments": ' + "[" * 100_000 + "]" * 100_000 + "}")
    (tmp_path / "digits.json").write_text(json.dumps(first_segment(start=int("9" * 400))))
    (tmp_path / "loud.json").write_text(json.dumps(first_segment(loudness_db=-int("9" * 400))))
    (tmp_path / "huge.json").write_text('{"call_id": "H", "segments": [{"speaker": "agent", "start": 0, "end": '
                                        + "9" * 5000 + ', "text": "喂"}]}')
    (tmp_path / "word.json").write_text(json.dumps(first_segment(words=[{"word": [[[]]], "start": 0, "end": 1}])))
    (tmp_path / "nan.json").write_text('{"call_id": "N", "segments": [{"speaker": "agent", "start": NaN, "end": 1, '
                                       '"text": "喂"}]}')
    (tmp_path / "dangling.json").symlink_to(tmp_path / "nowhere.json")
    (tmp_path / "loop1.json").symlink_to(tmp_path / "loop2.json")
    (tmp_path / "loop2.json").symlink_to(tmp_path / "loop1.json")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "up").symlink_to(tmp_path)
    (tmp_path / "sub" / "z_good.json").write_text(json.dumps(good(call_id="GOOD-2")), encoding="utf-8")
    os.mkfifo(tmp_path / "pipe.json")  # opening it for reading would wait for a writer forever

    code, out, err = check(str(tmp_path), "--json")

    assert code == 1
    assert [json.loads(line)["call_id"] for line in out.splitlines()] == ["GOOD-1", "GOOD-2"]
    expected = {
        "deep.json": "JSON nested too deeply to read",
        "digits.json": "segments[0].start must be a finite number ≥ 0, got 99999",
        "loud.json": "segments[0].loudness_db (dBFS) must be a finite number",
        "huge.json": "JSON holds a number of more than 4300 digits",
        "word.json": "segments[0].words[0].word must be a string, got list",
        "nan.json": "segments[0].start must be a finite number ≥ 0, got nan",
        "dangling.json": "broken symbolic link",
        "loop1.json": "symbolic link loop",
        "loop2.json": "symbolic link loop",
        "up": "symbolic link loop: this folder was already read",
        "pipe.json": "not a regular file",
    }
    for name, problem in expected.items():
        assert re.search(rf"^callqa: error: \S*/{re.escape(name)}: {re.escape(problem)}", err, re.M), (name, err)
    assert "Traceback" not in err
    assert "2 calls scored, 0 failed QA, 11 files with errors" in err


def _as_another_user(run):  # type: ignore[no-untyped-def]
    """Run `run()` where permissions apply: as is for an ordinary user; for root (who reads every file) in
    a forked child that has dropped to the unprivileged user `nobody`. Returns what `run()` returned."""
    if os.geteuid() != 0:
        return run()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: no exec, so the interpreter and the imported project stay usable
        status = 1
        try:
            os.close(read_end)
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            with os.fdopen(write_end, "w", encoding="utf-8") as fh:
                json.dump(run(), fh)
            status = 0
        finally:
            os._exit(status)
    os.close(write_end)
    with os.fdopen(read_end, encoding="utf-8") as fh:
        data = fh.read()
    _, status = os.waitpid(pid, 0)
    assert status == 0 and data, "the unprivileged run failed"
    return json.loads(data)


def test_unreadable_file_and_folder_are_named() -> None:
    from qa_checks import load_lexicon

    load_lexicon()  # read by this process, before a child may drop to a user without the project's files
    with tempfile.TemporaryDirectory(prefix="callqa-perm-") as where:
        root = Path(where)
        root.chmod(0o755)  # `nobody` must reach the folder
        (root / "a_good.json").write_text(json.dumps(good(call_id="GOOD-1")), encoding="utf-8")
        (root / "a_good.json").chmod(0o644)
        (root / "secret.json").write_text(json.dumps(good(call_id="SECRET")), encoding="utf-8")
        (root / "secret.json").chmod(0)
        (root / "locked").mkdir()
        (root / "locked" / "inside.json").write_text(json.dumps(good(call_id="INSIDE")), encoding="utf-8")
        (root / "locked").chmod(0)
        try:
            code, out, err = _as_another_user(lambda: check(str(root), "--json"))
        finally:
            (root / "locked").chmod(0o700)
    assert code == 1
    assert [json.loads(line)["call_id"] for line in out.splitlines()] == ["GOOD-1"]
    assert re.search(r"^callqa: error: \S*/secret.json: cannot read: Permission denied$", err, re.M), err
    assert re.search(r"^callqa: error: \S*/locked: cannot read folder: Permission denied$", err, re.M), err
    assert "1 calls scored, 0 failed QA, 2 files with errors" in err


def test_control_characters_in_a_file_never_reach_the_terminal(tmp_path: Path) -> None:
    evil = "C1\x1b[31mRED\x1b]0;owned\x07\x9b2J\u202eevil"
    data = good(call_id=evil)
    data["segments"][4]["text"] = "好的,这个大概\x1b[2K没问题\r\x1b[1A。"  # an agent line with a finding
    (tmp_path / "evil.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    (tmp_path / "bad\x1b[31m.json").write_text(json.dumps(good(questionnaire="x\x1b]8;;http://x\x07")),
                                               encoding="utf-8")

    code, out, err = check(str(tmp_path))
    shown = out + err
    for ch in ("\x1b", "\x07", "\x9b", "\u202e", "\r"):
        assert ch not in shown
    assert "C1\\x1b[31mRED\\x1b]0;owned\\x07\\x9b2J\\u202eevil" in out  # shown, not obeyed
    assert "bad\\x1b[31m.json: unknown questionnaire 'x\\x1b]8;;http://x\\x07'" in err
    assert code == 1

    code, out, _ = check(str(tmp_path / "evil.json"), "--json")
    assert code == 0
    assert "\x9b" not in out and "\u202e" not in out and "\x1b" not in out
    assert json.loads(out)["call_id"] == evil  # the JSON still carries the id exactly


def test_a_call_with_thousands_of_findings_shows_the_first_hundred(tmp_path: Path) -> None:
    data = good(call_id="MANY")
    data["segments"] = [{"speaker": "agent", "start": 0.0, "end": 600.0, "text": "大概可能," * 500}]
    (tmp_path / "many.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    code, out, _ = check(str(tmp_path / "many.json"))
    assert code == 0
    assert re.search(r"… and [\d,]+ more findings \(--json lists every one\)", out)
    code, out, _ = check(str(tmp_path / "many.json"), "--json")
    assert len(json.loads(out)["findings"]) > 100
