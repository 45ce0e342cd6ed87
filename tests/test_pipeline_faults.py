"""`callqa run` with the real models on the faults that used to lose or duplicate work: call ids that
collide once made file-safe, one call id given to two recordings, a truncated recording, and a second
run started on the same output folder while the first is running."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from results.files import safe_name
from results.lock import holder_of
from results.store import ResultStore

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "audio_fixtures"
MODELS_READY = (ROOT / "models" / "whisper-base-ct2" / "model.bin").exists()
pytestmark = pytest.mark.skipif(not MODELS_READY, reason="models not fetched: run setup.sh")


def callqa(*args: str) -> list[str]:
    return [sys.executable, "-m", "callqa.cli", *args]


def env() -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))


@pytest.fixture(scope="module")
def batch(tmp_path_factory):  # type: ignore[no-untyped-def]
    rec = tmp_path_factory.mktemp("recordings")
    for name in ("call 1.wav", "call_1.wav"):  # the same ids once made file-safe; the same audio (cached)
        shutil.copy(FIXTURES / "stereo_clean.wav", rec / name)
    (rec / "again").mkdir()
    shutil.copy(FIXTURES / "stereo_clean.wav", rec / "again" / "call 1.wav")  # a second recording, same id
    whole = (FIXTURES / "stereo_clean.wav").read_bytes()
    (rec / "cut.wav").write_bytes(whole[: 44 + (len(whole) - 44) // 3 // 4 * 4])  # two thirds missing
    out = tmp_path_factory.mktemp("out")
    first = subprocess.Popen(callqa("run", str(rec), "--out", str(out), "--no-review"), env=env(),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while holder_of(out) is None and first.poll() is None and time.time() < deadline:
        time.sleep(0.2)
    second = subprocess.run(callqa("run", str(rec), "--out", str(out), "--no-review"), env=env(),
                            capture_output=True, text=True, timeout=300)
    stdout, stderr = first.communicate(timeout=900)
    again = subprocess.run(callqa("run", str(rec), "--out", str(out), "--no-review"), env=env(),
                           capture_output=True, text=True, timeout=900)
    return rec, out, (first.returncode, stdout, stderr), second, again


def test_ids_that_collide_once_file_safe_are_both_scored(batch):  # type: ignore[no-untyped-def]
    _, out, (code, stdout, stderr), _, _ = batch
    assert code == 1, stderr[-3000:]  # the duplicate id and the truncated file failed
    assert "2 scored" in stdout and "2 added to the tables" in stdout
    store = ResultStore(out)
    assert sorted(store.call_ids()) == ["call 1", "call_1"]
    for call_id in ("call 1", "call_1"):
        result = json.loads(store.result_path(call_id).read_text(encoding="utf-8"))
        assert result["call_id"] == call_id and Path(result["recording"]).name == f"{call_id}.wav"
    assert store.result_path("call 1") != store.result_path("call_1")
    assert f"stored as {safe_name('call 1')}.json, call_1.json" in stderr
    assert sorted(store.scan("calls").collect()["call_id"].to_list()) == ["call 1", "call_1"]


def test_a_second_recording_with_the_same_id_fails_naming_both(batch):  # type: ignore[no-untyped-def]
    rec, _, (_, _, stderr), _, _ = batch
    assert (f"callqa: error: {rec / 'call 1.wav'}: call id 'call 1' is also the id of {rec / 'again' / 'call 1.wav'}"
            in stderr) or (f"callqa: error: {rec / 'again' / 'call 1.wav'}: call id 'call 1' is also the id of "
                           f"{rec / 'call 1.wav'}" in stderr)


def test_a_truncated_recording_is_named_as_a_failure(batch):  # type: ignore[no-untyped-def]
    rec, out, (_, _, stderr), _, _ = batch
    assert f"callqa: error: {rec / 'cut.wav'}: truncated: the header says 71.8 s, the file holds 23.9 s" in stderr
    assert not ResultStore(out).transcript_path("cut").exists()
    report = json.loads(sorted((out / "runs").glob("*.json"))[0].read_text(encoding="utf-8"))
    cut = next(o for o in report["outcomes"] if o["path"].endswith("cut.wav"))
    assert cut["status"] == "failed" and cut["error"].startswith("truncated")


def test_a_second_run_on_the_same_folder_is_refused_while_the_first_runs(batch):  # type: ignore[no-untyped-def]
    _, out, _, second, again = batch
    assert second.returncode == 3, second.stderr[-2000:]
    assert "is in use by another callqa command" in second.stderr and "--wait" in second.stderr
    assert "2 already done" in again.stdout and "0 scored" in again.stdout  # nothing transcribed twice
    calls = ResultStore(out).scan("calls").collect()
    assert calls.height == 2  # no row added twice
