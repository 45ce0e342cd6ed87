"""The transcript model: the one vocabulary every stage speaks (see CONTRACT.md).

It depends on nothing else in the project. Parsing is strict and every error names the field that is
wrong, because transcripts arrive from other call-center systems as often as from our own pipeline.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Speaker = Literal["agent", "customer"]
SPEAKERS: tuple[str, ...] = ("agent", "customer")


class TranscriptError(ValueError):
    """A transcript that does not follow the contract; the message says what and where."""


@dataclass(frozen=True, slots=True)
class Word:
    word: str
    start: float
    end: float
    probability: float | None = None


@dataclass(frozen=True, slots=True)
class Segment:
    speaker: Speaker
    start: float
    end: float
    text: str
    words: tuple[Word, ...] = ()
    loudness_db: float | None = None  # from the audio pipeline: the utterance's level on its own channel

    @property
    def duration(self) -> float:
        return max(0.0, self.end - self.start)


@dataclass(slots=True)
class Transcript:
    call_id: str
    segments: list[Segment]
    agent_id: str | None = None
    started_at: str | None = None
    questionnaire: str | list[str] | None = None
    team: str | None = None
    recording: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def duration(self) -> float:
        return max((s.end for s in self.segments), default=0.0)


@dataclass(slots=True)
class Finding:
    rule: str
    kind: str
    severity: str
    dimension: str
    speaker: str | None
    start: float
    end: float
    evidence: str
    message: str
    item: str | None = None
    weight: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        if d["item"] is None:
            del d["item"]
        d["start"] = round(self.start, 2)
        d["end"] = round(self.end, 2)
        return d


@dataclass(slots=True)
class CallResult:
    call_id: str
    questionnaire: str | list[str]
    questionnaire_source: str  # "given" or "detected"
    score: float
    passed: bool
    dimensions: dict[str, float]
    findings: list[Finding]
    metrics: dict[str, Any]
    agent_id: str | None = None
    started_at: str | None = None
    team: str | None = None
    recording: str | None = None
    source: str | None = None
    checklist: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "call_id": self.call_id,
            "questionnaire": self.questionnaire,
            "questionnaire_source": self.questionnaire_source,
            "score": self.score,
            "passed": self.passed,
            "dimensions": self.dimensions,
            "findings": [f.to_dict() for f in self.findings],
            "metrics": self.metrics,
            "checklist": self.checklist,
            "agent_id": self.agent_id,
            "started_at": self.started_at,
            "team": self.team,
            "recording": self.recording,
            "source": self.source,
        }


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TranscriptError(f"{where} must be a number of seconds, got {value!r}")
    if not math.isfinite(value) or value < 0:
        raise TranscriptError(f"{where} must be a finite number ≥ 0, got {value!r}")
    return float(value)


def _optional_str(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise TranscriptError(f"'{key}' must be a string, got {type(value).__name__}")
    return value


def _parse_words(raw: Any, where: str) -> tuple[Word, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise TranscriptError(f"{where}.words must be a list")
    words = []
    for j, w in enumerate(raw):
        if not isinstance(w, dict) or "word" not in w:
            raise TranscriptError(f"{where}.words[{j}] must be an object with 'word', 'start', 'end'")
        words.append(
            Word(
                word=str(w["word"]),
                start=_number(w.get("start"), f"{where}.words[{j}].start"),
                end=_number(w.get("end"), f"{where}.words[{j}].end"),
                probability=w.get("probability"),
            )
        )
    return tuple(words)


def _parse_segment(raw: Any, i: int) -> Segment:
    where = f"segments[{i}]"
    if not isinstance(raw, dict):
        raise TranscriptError(f"{where} must be an object, got {type(raw).__name__}")
    speaker = raw.get("speaker")
    if speaker not in SPEAKERS:
        raise TranscriptError(f"{where}.speaker must be 'agent' or 'customer', got {speaker!r}")
    start = _number(raw.get("start"), f"{where}.start")
    end = _number(raw.get("end"), f"{where}.end")
    if end < start:
        raise TranscriptError(f"{where} ends ({end}) before it starts ({start})")
    text = raw.get("text")
    if not isinstance(text, str):
        raise TranscriptError(f"{where}.text must be a string, got {type(text).__name__}")
    loud = raw.get("loudness_db")
    if loud is not None and (isinstance(loud, bool) or not isinstance(loud, (int, float)) or not math.isfinite(loud)):
        raise TranscriptError(f"{where}.loudness_db must be a number (dBFS)")
    return Segment(speaker, start, end, text, _parse_words(raw.get("words"), where),
                   float(loud) if loud is not None else None)


def transcript_from_dict(data: Any) -> Transcript:
    """Build a Transcript from contract JSON, raising TranscriptError on the first problem."""
    if not isinstance(data, dict):
        raise TranscriptError(f"the top level must be a JSON object, got {type(data).__name__}")
    call_id = data.get("call_id")
    if not isinstance(call_id, (str, int)) or isinstance(call_id, bool) or str(call_id).strip() == "":
        raise TranscriptError("'call_id' is missing or empty")
    raw_segments = data.get("segments")
    if not isinstance(raw_segments, list):
        raise TranscriptError("'segments' is missing or not a list")
    segments = [_parse_segment(s, i) for i, s in enumerate(raw_segments)]
    # The contract says time order; tolerate small disorder from other systems by sorting stably.
    segments.sort(key=lambda s: s.start)
    questionnaire = data.get("questionnaire")
    if questionnaire is not None:
        if isinstance(questionnaire, list):
            if not questionnaire or not all(isinstance(q, str) and q for q in questionnaire):
                raise TranscriptError("'questionnaire' list must hold questionnaire names")
        elif not isinstance(questionnaire, str) or not questionnaire:
            raise TranscriptError("'questionnaire' must be a name or a list of names")
    known = {"call_id", "segments", "agent_id", "started_at", "questionnaire", "team", "recording"}
    return Transcript(
        call_id=str(call_id),
        segments=segments,
        agent_id=_optional_str(data, "agent_id"),
        started_at=_optional_str(data, "started_at"),
        questionnaire=questionnaire,
        team=_optional_str(data, "team"),
        recording=_optional_str(data, "recording"),
        extra={k: v for k, v in data.items() if k not in known},
    )


def transcript_to_dict(t: Transcript) -> dict[str, Any]:
    out: dict[str, Any] = {"call_id": t.call_id}
    for key in ("agent_id", "started_at", "questionnaire", "team", "recording"):
        value = getattr(t, key)
        if value is not None:
            out[key] = value
    out.update(t.extra)
    segs = []
    for s in t.segments:
        d: dict[str, Any] = {"speaker": s.speaker, "start": s.start, "end": s.end, "text": s.text}
        if s.words:
            d["words"] = [asdict(w) for w in s.words]
        if s.loudness_db is not None:
            d["loudness_db"] = s.loudness_db
        segs.append(d)
    out["segments"] = segs
    return out
