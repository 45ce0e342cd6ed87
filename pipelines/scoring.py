"""The scoring flow: stored transcripts → results → tables.

    QA (the rule engine) → result → tables

A result is current while its transcript (the file's hash), the lexicons (their content fingerprint) and
the engine (its version) are the ones it was scored with; only calls whose result is not current are
scored again, so a lexicon edit re-scores every call and a re-run after it re-scores none. Nothing here
decodes audio or loads a model. Calls are scored in slices, one task per slice: a call takes milliseconds,
far less than a task's own bookkeeping.
"""

from __future__ import annotations

import datetime as dt
import traceback
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from prefect import flow, task

from callqa.model import Transcript
from qa_checks import check_call, engine_version, load_lexicon
from results.files import sync_dir
from results.matching import match_findings
from results.store import ResultStore, TableError

SLICE = 200  # calls per scoring task


@dataclass
class ScoreOutcome:
    call_id: str
    status: str  # scored | current | failed
    error: str | None = None
    score: float | None = None
    passed: bool | None = None
    was_passed: bool | None = None  # the verdict of the result it replaced (None: first scoring)
    added: dict[str, int] = field(default_factory=dict)  # rule -> findings the new scoring has and the old had not
    removed: dict[str, int] = field(default_factory=dict)

    @property
    def flipped(self) -> bool:
        return self.was_passed is not None and self.passed is not None and self.was_passed != self.passed


def scoring_key(transcript_sha256: str, lexicon_fingerprint: str) -> dict[str, str]:
    return {"transcript_sha256": transcript_sha256, "lexicon_fingerprint": lexicon_fingerprint,
            "engine_version": engine_version()}


def speech_meta(transcript: Transcript) -> dict[str, Any]:
    """What the tables and pages need of the speech pipeline, from the transcript's audio measures."""
    audio = transcript.audio
    if audio is None:
        return {}
    return {"audio_sha256": audio.sha256, "settings": audio.settings, "whisper_model": audio.model,
            "separation": audio.separation, "role_confidence": audio.roles.confidence if audio.roles else None}


def score_transcript(transcript: Transcript, transcript_sha256: str, lexicons: str | None,
                     run_id: str) -> dict[str, Any]:
    """The result of one stored transcript, with what scored it (`scoring`) and where it came from."""
    lex = load_lexicon(lexicons)
    result = check_call(transcript, lex).to_dict()
    result["scoring"] = {**scoring_key(transcript_sha256, lex.fingerprint), "run_id": run_id,
                         "scored_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
    result["pipeline"] = speech_meta(transcript)
    return result


def changes(old: dict[str, Any] | None, new: dict[str, Any]) -> tuple[Counter[str], Counter[str]]:
    """Findings per rule the new result adds and the old one had that the new has not."""
    before = (old or {}).get("findings", [])
    after = new.get("findings", [])
    pairs = match_findings(before, after)
    paired_new = set(pairs.values())
    removed = Counter(f["rule"] for i, f in enumerate(before) if i not in pairs)
    added = Counter(f["rule"] for j, f in enumerate(after) if j not in paired_new)
    return added, removed


def score_one(store: ResultStore, call_id: str, lexicons: str | None, run_id: str, *, force: bool = False,
              write: bool = True) -> ScoreOutcome:
    """Score one stored transcript unless its result is current; a failure is the call's outcome."""
    try:
        transcript, sha = store.read_transcript(call_id)
        lex = load_lexicon(lexicons)
        old = store.read_result(call_id)
        if not force and old is not None and store.result_current(call_id, scoring_key(sha, lex.fingerprint)):
            return ScoreOutcome(call_id, "current", score=old.get("score"), passed=old.get("passed"))
        result = score_transcript(transcript, sha, lexicons, run_id)
        added, removed = changes(old, result)
        if write:
            store.save_result(call_id, result)
        return ScoreOutcome(call_id, "scored", score=result["score"], passed=result["passed"],
                            was_passed=old.get("passed") if old else None, added=dict(added), removed=dict(removed))
    except (OSError, ValueError, RecursionError) as exc:
        return ScoreOutcome(call_id, "failed", error=f"transcript: {exc}")
    except Exception as exc:  # one broken call must not stop the batch
        detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        return ScoreOutcome(call_id, "failed", error=detail)


@task(name="score-slice", retries=1, persist_result=False)
def score_slice(out: str, call_ids: list[str], lexicons: str | None, run_id: str, force: bool,
                write: bool) -> list[ScoreOutcome]:
    store = ResultStore(out)
    outcomes = [score_one(store, c, lexicons, run_id, force=force, write=write) for c in call_ids]
    if write:
        sync_dir(store.root / "results")
    return outcomes


@task(name="tables", retries=2, retry_delay_seconds=1, persist_result=False,
      retry_condition_fn=lambda t, r, s: not isinstance(s.result(raise_on_failure=False), TableError))
def tables_task(out: str, run_id: str) -> tuple[int, list[str]]:
    """Add the new results to the tables: the number of calls added, and the result files left out."""
    problems: list[str] = []
    return ResultStore(out).sync_tables(run_id, problems), problems


@flow(name="callqa-score", log_prints=False)
def score_calls(out: str, call_ids: Sequence[str], run_id: str, lexicons: str | None = None, *,
                force: bool = False, dry_run: bool = False) -> tuple[list[ScoreOutcome], int, list[str]]:
    """Score the stored transcripts of `call_ids` whose results are not current (all of them with `force`);
    write the results and add them to the tables. `dry_run` computes the changes and writes nothing.
    Returns the outcomes, the number of calls added to the tables and notes on result files left out."""
    load_lexicon(lexicons)  # a broken lexicon fails the flow here, before any call
    ids = list(call_ids)
    futures = [score_slice.submit(out, ids[i : i + SLICE], lexicons, run_id, force, not dry_run)
               for i in range(0, len(ids), SLICE)]
    outcomes = [o for f in futures for o in f.result()]
    tabled, notes = (0, []) if dry_run else tables_task(out, run_id)
    return outcomes, tabled, notes
