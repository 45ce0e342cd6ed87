"""The whole speech pipeline on real fixture recordings, with the real models on CPU.

Slow by nature (Whisper base and the diarisation on two 75–80 s calls, about a minute): the flow runs once for
the module and every test reads what it wrote.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "audio_fixtures"
sys.path.insert(0, str(ROOT / "benchmarks"))

from pipeline_quality import role_attribution  # noqa: E402

from pipelines.models import models_ready  # noqa: E402

pytestmark = pytest.mark.skipif(not models_ready(), reason="models not fetched: run setup.sh")

STEREO = "stereo_agent_right_issues.flac"
MONO = "mono_clean.wav"


@pytest.fixture(scope="module")
def run_once(tmp_path_factory):
    from prefect.testing.utilities import prefect_test_harness

    from pipelines.flow import run
    from pipelines.settings import PipelineSettings

    recordings = tmp_path_factory.mktemp("recordings")
    for name in (STEREO, MONO):
        shutil.copy(FIXTURES / name, recordings / name)
    (recordings / "manifest.csv").write_text(
        f"file,call_id,agent_id,team,started_at\n{STEREO},C-STEREO,A017,T3,2026-11-16T10:32:00+08:00\n", encoding="utf-8")
    (recordings / "broken.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk" + os.urandom(256))
    out = tmp_path_factory.mktemp("out")
    settings = PipelineSettings.from_env()
    with prefect_test_harness():
        first = run([str(recordings)], str(out), settings)
        second = run([str(recordings)], str(out), settings)
    return out, first, second


def load(out: Path, kind: str, call_id: str) -> dict:
    return json.loads((out / kind / f"{call_id}.json").read_text(encoding="utf-8"))


def test_every_call_scored_and_the_broken_one_reported(run_once):
    out, first, _ = run_once
    status = {Path(o.path).name: o for o in first.outcomes}
    assert status[STEREO].status == "scored" and status[MONO].status == "scored"
    assert status["broken.wav"].status == "failed" and "cannot decode" in status["broken.wav"].error
    report = json.loads((out / "runs" / f"{first.run_id}.json").read_text(encoding="utf-8"))
    assert report["counts"] == {"scored": 2, "skipped": 0, "failed": 1}


def test_transcript_follows_the_contract_with_words_and_audio(run_once):
    from callqa.model import transcript_from_dict

    out, _, _ = run_once
    data = load(out, "transcripts", "C-STEREO")
    t = transcript_from_dict(data)  # parses as the contract says
    assert t.agent_id == "A017" and t.team == "T3" and t.started_at.startswith("2026-11-16")
    assert {s.speaker for s in t.segments} == {"agent", "customer"}
    assert all(s.words for s in t.segments) and all(s.loudness_db is not None for s in t.segments if s.duration > 0.5)
    assert data["audio"]["separation"] == "stereo" and data["audio"]["sample_rate"] == 8000


def test_agent_found_from_what_is_said_not_the_channel(run_once):
    out, _, _ = run_once
    truth = json.loads((FIXTURES / STEREO.replace(".flac", ".truth.json")).read_text(encoding="utf-8"))
    data = load(out, "transcripts", "C-STEREO")
    roles = data["audio"]["roles"]
    assert truth["channels"]["agent"] == 1 and roles["agent"] == "channel_1" and roles["confidence"] > 0.6
    right, total = role_attribution(data["segments"], truth["segments"])
    assert total > 40 and right / total >= 0.98


def test_mono_call_is_diarised_and_attributed(run_once):
    out, _, _ = run_once
    truth = json.loads((FIXTURES / "mono_clean.truth.json").read_text(encoding="utf-8"))
    data = load(out, "transcripts", "mono_clean")
    assert data["audio"]["separation"] == "diarization"
    right, total = role_attribution(data["segments"], truth["segments"])
    assert total > 30 and right / total >= 0.95  # the two-speaker path; pyannote gave 0.75-0.9 on this call


def test_audio_rules_find_what_was_planted(run_once):
    out, _, _ = run_once
    result = load(out, "results", "C-STEREO")
    rules = {f["rule"] for f in result["findings"]}
    assert {"dynamics.dead_air", "dynamics.interruption"} <= rules
    dead = next(f for f in result["findings"] if f["rule"] == "dynamics.dead_air")
    truth = json.loads((FIXTURES / STEREO.replace(".flac", ".truth.json")).read_text(encoding="utf-8"))
    gaps = [(a["end"], b["start"]) for a, b in zip(truth["segments"], truth["segments"][1:], strict=False)]
    longest = max(gaps, key=lambda g: g[1] - g[0])
    assert abs(dead["start"] - longest[0]) < 1.5 and abs(dead["end"] - longest[1]) < 1.5
    assert result["pipeline"]["separation"] == "stereo" and len(result["pipeline"]["audio_sha256"]) == 64


def test_tables_hold_each_call_once_and_a_rerun_does_no_work(run_once):
    import polars as pl

    from results.store import ResultStore

    out, _, second = run_once
    assert {o.status for o in second.outcomes if not o.path.endswith("broken.wav")} == {"skipped"}
    store = ResultStore(out)
    calls = store.scan("calls").collect()
    assert sorted(calls["call_id"].to_list()) == ["C-STEREO", "mono_clean"]
    findings = store.scan("findings").collect()
    n = sum(len(load(out, "results", c)["findings"]) for c in ("C-STEREO", "mono_clean"))
    assert findings.height == n and findings.filter(pl.col("rule") == "dynamics.dead_air").height >= 1
    assert not list(out.rglob("*.tmp"))


def test_killed_run_finishes_on_restart_with_each_call_once(tmp_path):
    recordings = tmp_path / "rec"
    recordings.mkdir()
    for name in ("stereo_clean.wav", STEREO):
        shutil.copy(FIXTURES / name, recordings / name)
    out = tmp_path / "out"
    cmd = [str(Path(sys.executable).parent / "callqa"), "run", str(recordings), "--out", str(out)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 400
    while time.time() < deadline and proc.poll() is None:
        if (out / "transcripts").exists() and list((out / "transcripts").glob("*.json")):
            break
        time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGKILL)  # pull the plug mid-batch: one transcript written, the other not
    proc.wait()
    done_before = {p.stem for p in (out / "transcripts").glob("*.json")}
    assert len(done_before) == 1
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "2 scored (1 transcribed, 1 re-scored from their stored transcripts)" in again.stdout  # no work redone
    from results.store import ResultStore

    calls = ResultStore(out).scan("calls").collect()
    assert sorted(calls["call_id"].to_list()) == ["stereo_agent_right_issues", "stereo_clean"]
    assert not [p for p in out.rglob("*") if p.name.endswith(".tmp") or p.name.startswith(".tmp-")]
    for call_id in calls["call_id"]:
        json.loads((out / "results" / f"{call_id}.json").read_text(encoding="utf-8"))  # whole, never half
    # the run ends with the review site, its players pointing at the recordings scored
    for call_id, recording in zip(calls["call_id"], calls["recording"], strict=True):
        page = out / "review" / "calls" / f"{call_id}.html"
        src = re.search(r'<audio id="player"[^>]* src="([^"]+)"', page.read_text(encoding="utf-8")).group(1)
        assert (page.parent / unquote(src)).resolve() == (recordings / Path(recording).name).resolve()


LOADED_MODELS = """
import json, sys
from callqa.cli import main
try:
    main(sys.argv[1:], standalone_mode=False)
finally:
    from pipelines.speakers import diarization_pipeline
    from pipelines.transcribe import _load
    from pipelines.two_speakers import _campplus
    print(json.dumps({"whisper": _load.cache_info().currsize, "pyannote": diarization_pipeline.cache_info().currsize,
                      "campplus": _campplus.cache_info().currsize}))
"""


def _callqa(*args: str) -> subprocess.CompletedProcess[str]:
    """The command line in a fresh process, reporting afterwards which models it loaded."""
    return subprocess.run([sys.executable, "-c", LOADED_MODELS, *args], capture_output=True, text=True, timeout=300)


def test_a_lexicon_edit_rescores_without_transcribing(run_once, tmp_path):
    import yaml

    out, _, _ = run_once
    before = load(out, "results", "C-STEREO")
    transcript_bytes = (out / "transcripts" / "C-STEREO.json").read_bytes()
    fired = {f["rule"] for f in before["findings"]}
    assert "dynamics.dead_air" in fired
    # a lexicon edit as a QA team makes it: switch off a rule that fired, add a phrase the agent said
    lexicons = Path(shutil.copytree(ROOT / "lexicons", tmp_path / "lexicons"))
    rules = yaml.safe_load((lexicons / "rules.yaml").read_text(encoding="utf-8"))
    rules["dynamics.dead_air"]["enabled"] = False
    (lexicons / "rules.yaml").write_text(yaml.safe_dump(rules, allow_unicode=True), encoding="utf-8")
    agent = max((s["text"] for s in load(out, "transcripts", "C-STEREO")["segments"] if s["speaker"] == "agent"),
                key=len)
    phrase = re.sub(r"[^\u4e00-\u9fff]", "", agent)[2:6]
    forbidden = yaml.safe_load((lexicons / "forbidden.yaml").read_text(encoding="utf-8"))
    forbidden["forbidden.colloquial"]["phrases"].append(phrase)
    (lexicons / "forbidden.yaml").write_text(yaml.safe_dump(forbidden, allow_unicode=True), encoding="utf-8")

    dry = _callqa("rescore", "--results", str(out), "--lexicons", str(lexicons), "--dry-run")
    assert dry.returncode == 0, dry.stderr[-2000:]
    assert re.search(r"dynamics\.dead_air\s+\+0\s+-1", dry.stdout) and re.search(r"forbidden\.colloquial\s+\+1", dry.stdout)
    assert load(out, "results", "C-STEREO") == before  # a dry run writes nothing

    recordings = Path(before["recording"]).parent
    again = _callqa("run", str(recordings), "--out", str(out), "--lexicons", str(lexicons), "--no-review")
    assert "re-scored from their stored transcripts" in again.stdout, again.stdout + again.stderr[-2000:]
    assert json.loads(again.stdout.strip().splitlines()[-1]) == {"whisper": 0, "pyannote": 0, "campplus": 0}  # none loaded
    after = load(out, "results", "C-STEREO")
    rules_after = [f["rule"] for f in after["findings"]]
    assert "dynamics.dead_air" not in rules_after and "forbidden.colloquial" in rules_after
    assert any(phrase in f["evidence"] for f in after["findings"] if f["rule"] == "forbidden.colloquial")
    assert after["scoring"]["lexicon_fingerprint"] != before["scoring"]["lexicon_fingerprint"]
    assert (out / "transcripts" / "C-STEREO.json").read_bytes() == transcript_bytes  # not transcribed again
    # the newest scoring is the one the tables give
    from reports.tables import Tables

    calls = Tables(out).calls.collect()
    assert calls.filter(calls["call_id"] == "C-STEREO")["lexicon_fingerprint"].to_list() == [
        after["scoring"]["lexicon_fingerprint"]]
