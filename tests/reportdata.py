"""An output folder for report tests, made without the speech models: the fixtures' ground-truth
transcripts are scored by the real QA engine and stored the way `callqa run` stores them, beside the
real recordings (so clips and audio players have real audio under them)."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from pipelines.assemble import score_transcript
from pipelines.store import ResultStore
from qa_checks.lexicon import load_lexicon

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "audio_fixtures"
TRUTH_ONLY = ("planted", "channels", "mono", "sample_rate", "audio", "duration")


def manifest() -> dict[str, dict[str, str]]:
    with (FIXTURES / "manifest.csv").open(encoding="utf-8") as fh:
        return {row["file"]: row for row in csv.DictReader(fh)}


def fixture_transcript(truth: Path, meta: dict[str, str]) -> dict[str, Any]:
    data = json.loads(truth.read_text(encoding="utf-8"))
    transcript = {k: v for k, v in data.items() if k not in TRUTH_ONLY}
    transcript.update(call_id=meta["call_id"], agent_id=meta["agent_id"], team=meta["team"],
                      started_at=meta["started_at"], recording=str(FIXTURES / data["audio"]))
    return transcript


def build_output(out: Path, run_id: str = "20261122T000000-fixture") -> Path:
    """Score every fixture's truth transcript into `out` (transcripts, results, tables)."""
    lex = load_lexicon(None)
    store = ResultStore(out)
    rows = manifest()
    for truth in sorted(FIXTURES.glob("*.truth.json")):
        audio = json.loads(truth.read_text(encoding="utf-8"))["audio"]
        transcript = fixture_transcript(truth, rows[audio])
        meta = {"run_id": run_id, "audio_sha256": "", "settings": "fixture-truth", "separation": "truth",
                "role_confidence": 1.0}
        result = score_transcript(transcript, lex, meta)
        store.save_call(transcript["call_id"], transcript, result)
    store.sync_tables(run_id)
    return out
