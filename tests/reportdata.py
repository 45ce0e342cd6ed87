"""An output folder for report tests, made without the speech models: the fixtures' ground-truth
transcripts are scored by the real QA engine and stored the way `callqa run` stores them, beside the
real recordings (so clips and audio players have real audio under them)."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from callqa.model import transcript_from_dict
from pipelines.scoring import score_transcript
from results.store import ResultStore

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "audio_fixtures"
TRUTH_ONLY = ("planted", "channels", "mono", "sample_rate", "recording", "duration")


def manifest() -> dict[str, dict[str, str]]:
    with (FIXTURES / "manifest.csv").open(encoding="utf-8") as fh:
        return {row["file"]: row for row in csv.DictReader(fh)}


def fixture_transcript(truth: Path, meta: dict[str, str]) -> dict[str, Any]:
    data = json.loads(truth.read_text(encoding="utf-8"))
    transcript = {k: v for k, v in data.items() if k not in TRUTH_ONLY}
    transcript.update(call_id=meta["call_id"], agent_id=meta["agent_id"], team=meta["team"],
                      started_at=meta["started_at"], recording=str(FIXTURES / data["recording"]))
    return transcript


def build_output(out: Path, run_id: str = "20261122T000000-fixture") -> Path:
    """Score every fixture's truth transcript into `out` (transcripts, results, tables)."""
    store = ResultStore(out)
    rows = manifest()
    for truth in sorted(FIXTURES.glob("*.truth.json")):
        audio = json.loads(truth.read_text(encoding="utf-8"))["recording"]
        transcript = transcript_from_dict(fixture_transcript(truth, rows[audio]))
        sha = store.save_transcript(transcript)
        result = score_transcript(transcript, sha, None, run_id)
        result["pipeline"] = {"separation": "truth", "role_confidence": 1.0}
        store.save_result(transcript.call_id, result)
    store.sync_tables(run_id)
    return out
