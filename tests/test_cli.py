import json
import shutil
from pathlib import Path

from callbuilder import CLEAN, timed
from click.testing import CliRunner

from callqa.cli import main

SAMPLES = Path(__file__).resolve().parent.parent / "samples" / "transcripts"


def write_call(path: Path, call_id: str, lines=CLEAN) -> Path:
    path.write_text(json.dumps({"call_id": call_id, "questionnaire": "traditional", "segments": timed(lines)},
                               ensure_ascii=False), encoding="utf-8")
    return path


def test_json_lines_follow_the_contract(tmp_path):
    write_call(tmp_path / "a.json", "A-1")
    lines = list(CLEAN)
    lines.insert(13, ("agent", "理赔款大概一周到账。"))
    lines.insert(14, ("customer", "好。"))
    write_call(tmp_path / "b.json", "B-2", lines)
    result = CliRunner().invoke(main, ["check", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    assert [r["call_id"] for r in rows] == ["A-1", "B-2"]
    for r in rows:
        assert {"call_id", "questionnaire", "score", "passed", "dimensions", "findings", "metrics"} <= set(r)
        assert set(r["dimensions"]) == {"compliance", "professionalism", "customer_experience"}
        assert "agent_chars_per_min" in r["metrics"] and "thanks_count" in r["metrics"]
    vague = [f for f in rows[1]["findings"] if f["rule"] == "forbidden.vague"]
    assert vague and {"rule", "kind", "severity", "speaker", "start", "end", "evidence", "message"} <= set(vague[0])
    assert rows[1]["score"] < rows[0]["score"] == 100.0


def test_bad_files_are_named_and_the_rest_still_scored(tmp_path):
    write_call(tmp_path / "good.json", "G-1")
    (tmp_path / "broken.json").write_text('{"call_id": "X", "segments": [', encoding="utf-8")
    (tmp_path / "empty.json").write_text("", encoding="utf-8")
    (tmp_path / "gbk.json").write_bytes('{"call_id": "中文"}'.encode("gbk"))
    (tmp_path / "speaker.json").write_text(json.dumps(
        {"call_id": "S", "segments": [{"speaker": "robot", "start": 0, "end": 1, "text": "喂"}]}), encoding="utf-8")
    (tmp_path / "times.json").write_text(json.dumps(
        {"call_id": "T", "segments": [{"speaker": "agent", "start": 5, "end": 1, "text": "喂"}]}), encoding="utf-8")
    (tmp_path / "q.json").write_text(json.dumps(
        {"call_id": "Q", "questionnaire": "health", "segments": []}), encoding="utf-8")
    result = CliRunner().invoke(main, ["check", str(tmp_path), "--json"])
    assert result.exit_code == 1
    assert [json.loads(x)["call_id"] for x in result.stdout.splitlines() if x.strip()] == ["G-1"]
    err = result.stderr
    assert "broken.json: malformed JSON at line 1" in err
    assert "empty.json: file is empty" in err
    assert "gbk.json: not UTF-8" in err
    assert "speaker.json: segments[0].speaker must be 'agent' or 'customer'" in err
    assert "times.json: segments[0] ends (1.0) before it starts (5.0)" in err
    assert "q.json: unknown questionnaire 'health'" in err


def test_missing_path_is_an_error(tmp_path):
    result = CliRunner().invoke(main, ["check", str(tmp_path / "nope.json")])
    assert result.exit_code == 1 and "no such file or folder" in result.stderr


def test_readable_table_for_the_bundled_samples():
    result = CliRunner().invoke(main, ["check", str(SAMPLES)])
    assert result.exit_code == 0, result.output
    assert "calls scored" in result.stdout and "FAIL" in result.stdout and "PASS" in result.stdout


def test_lexicon_folder_is_a_setting(tmp_path):
    lex = tmp_path / "lex"
    shutil.copytree(Path(__file__).resolve().parent.parent / "lexicons", lex)
    rules = (lex / "rules.yaml").read_text(encoding="utf-8")
    (lex / "rules.yaml").write_text(rules.replace(
        "forbidden.vague:        {kind: violation, severity: minor,",
        "forbidden.vague:        {kind: violation, severity: critical,"), encoding="utf-8")
    lines = list(CLEAN)
    lines.insert(13, ("agent", "理赔款大概一周到账。"))
    write_call(tmp_path / "c.json", "C-1", lines)
    result = CliRunner().invoke(main, ["check", str(tmp_path / "c.json"), "--json", "--lexicons", str(lex)])
    row = json.loads(result.stdout)
    assert row["passed"] is False
    assert any(f["rule"] == "forbidden.vague" and f["severity"] == "critical" for f in row["findings"])


def test_broken_lexicon_is_reported(tmp_path):
    lex = tmp_path / "lex"
    shutil.copytree(Path(__file__).resolve().parent.parent / "lexicons", lex)
    (lex / "forbidden.yaml").write_text("forbidden.nonsense:\n  phrases: [x]\n", encoding="utf-8")
    write_call(tmp_path / "c.json", "C-1")
    result = CliRunner().invoke(main, ["check", str(tmp_path / "c.json"), "--lexicons", str(lex)])
    assert result.exit_code == 2 and "forbidden.nonsense: not a rule id" in result.stderr


def test_bad_pattern_in_a_lexicon_is_named(tmp_path):
    lex = tmp_path / "lex"
    shutil.copytree(Path(__file__).resolve().parent.parent / "lexicons", lex)
    cues = (lex / "cues.yaml").read_text(encoding="utf-8")
    (lex / "cues.yaml").write_text(cues.replace("thanks: [谢谢,", 'thanks: ["re:([谢", 谢谢,', 1), encoding="utf-8")
    write_call(tmp_path / "c.json", "C-1")
    result = CliRunner().invoke(main, ["check", str(tmp_path / "c.json"), "--lexicons", str(lex)])
    assert result.exit_code == 2 and "thanks: bad regular expression" in result.stderr
