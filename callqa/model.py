"""The model: the one vocabulary every stage speaks (see CONTRACT.md).

Words, utterances, segments, the call's audio measures, transcripts, findings and results, and the
enumerations of severity, kind and dimension with their order. It depends on nothing else in the
project. Parsing is strict and every error names the field that is wrong, because transcripts arrive
from other call-center systems as often as from our own pipeline.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any, Literal

Speaker = Literal["agent", "customer"]
SPEAKERS: tuple[str, ...] = ("agent", "customer")


class Severity(StrEnum):
    """How bad a finding is; members are listed worst first."""

    CRITICAL = "critical"  # the call fails outright (一票否决)
    MAJOR = "major"
    MINOR = "minor"
    INFO = "info"

    @property
    def rank(self) -> int:
        """0 for the worst severity: sorting by rank puts the worst first."""
        return _SEVERITY_RANK[self]


_SEVERITY_RANK = {s: i for i, s in enumerate(Severity)}
SEVERITIES: tuple[Severity, ...] = tuple(Severity)


class Kind(StrEnum):
    VIOLATION = "violation"  # the agent did something wrong: deducts
    ALERT = "alert"  # a business event someone must follow up: never deducts


class Dimension(StrEnum):
    """The three QA dimensions of seed 004, in the order reports show them."""

    COMPLIANCE = "compliance"
    PROFESSIONALISM = "professionalism"
    CUSTOMER_EXPERIENCE = "customer_experience"


DIMENSIONS: tuple[Dimension, ...] = tuple(Dimension)


class Status(StrEnum):
    """What a finding counts as: a violation (deducts, a critical one fails the call), an alert (a business
    event to follow up), or to be verified by a person because the recogniser was unsure of the words the
    finding rests on (neither deducts nor fails the call; the queue lists it in its own lane)."""

    VIOLATION = "violation"
    ALERT = "alert"
    NEEDS_REVIEW = "needs_review"


class Basis(StrEnum):
    """What a finding rests on, which says how the recogniser's confidence bears on it."""

    HEARD = "heard"  # words that were said (a forbidden phrase, the customer's 我要退保)
    ABSENT = "absent"  # words that were not heard where they belong (a question skipped, no consent)
    STRUCTURE = "structure"  # how the conversation went (questions merged, out of order)
    MEASURED = "measured"  # the audio or the timing (speaking rate, loudness, silence, overlap)


class TranscriptError(ValueError):
    """A transcript that does not follow the contract; the message says what and where."""


@dataclass(frozen=True, slots=True)
class Word:
    word: str
    start: float
    end: float
    probability: float | None = None  # the recogniser's confidence; None from systems that give none


@dataclass(frozen=True, slots=True)
class Utterance:
    """What one voice said in one stretch, as the recogniser heard it; its speaker is decided later."""

    start: float
    end: float
    text: str
    words: tuple[Word, ...] = ()
    avg_logprob: float | None = None
    no_speech_prob: float | None = None


@dataclass(frozen=True, slots=True)
class Segment:
    """An utterance placed in the call: who said it, when, the words."""

    speaker: Speaker
    start: float
    end: float
    text: str
    words: tuple[Word, ...] = ()
    loudness_db: float | None = None  # from the audio pipeline: the utterance's level on its own channel

    @property
    def duration(self) -> float:
        return max(0.0, self.end - self.start)


@dataclass(frozen=True, slots=True)
class RoleDecision:
    """Which speaker track is the agent, and how sure the decision is."""

    agent: str  # track label
    customer: str | None
    confidence: float  # 0.5 = a guess, 1.0 = only one track says anything an agent says
    scores: dict[str, float]
    method: str = "text"


@dataclass(frozen=True, slots=True)
class AudioMeasures:
    """What the speech pipeline measured of the recording, beside the words (CONTRACT.md `audio`)."""

    duration: float
    sample_rate: int
    channels: int
    separation: str  # "stereo" or "diarization"
    roles: RoleDecision | None = None
    silences: tuple[tuple[float, float], ...] = ()  # nobody speaks, inside the call, longest first
    noise_floor_dbfs: float | None = None
    talk_ratio: float | None = None  # agent share of speaking time
    warnings: tuple[str, ...] = ()
    sha256: str | None = None  # the recording's content hash
    settings: str | None = None  # fingerprint of the speech settings the transcript was made with
    model: str | None = None  # the recogniser


@dataclass(slots=True)
class Transcript:
    call_id: str
    segments: list[Segment]
    agent_id: str | None = None
    started_at: str | None = None
    questionnaire: str | list[str] | None = None
    team: str | None = None
    recording: str | None = None
    audio: AudioMeasures | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def duration(self) -> float:
        return max((s.end for s in self.segments), default=0.0)


@dataclass(slots=True)
class Finding:
    rule: str
    kind: Kind
    severity: Severity
    dimension: Dimension
    speaker: str | None
    start: float
    end: float
    evidence: str
    message: str
    item: str | None = None
    weight: float = 0.0
    basis: Basis = Basis.HEARD
    # how sure the recogniser was of the words the finding rests on (0–1); None where the transcript gives
    # no word probabilities (other systems) or the finding does not rest on words
    confidence: float | None = None
    status: Status | None = None  # set by the engine: the kind, or needs_review

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        if d["item"] is None:
            del d["item"]
        d["start"] = round(self.start, 2)
        d["end"] = round(self.end, 2)
        if self.confidence is not None:
            d["confidence"] = round(self.confidence, 3)
        d["status"] = self.status or self.kind
        return d

    @property
    def asserted(self) -> bool:
        """A violation or an alert as found; a finding to verify is not asserted."""
        return (self.status or self.kind) != Status.NEEDS_REVIEW


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
    # what scored it: the lexicons' content fingerprint and the engine's version
    scoring: dict[str, str] = field(default_factory=dict)

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
            "scoring": dict(self.scoring),
        }


def _finite(value: Any) -> float | None:
    """A JSON number as a finite float; None for infinities, NaN and integers too large for a float
    (a 400-digit integer is valid JSON)."""
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TranscriptError(f"{where} must be a number of seconds, got {_shown(value)}")
    number = _finite(value)
    if number is None or number < 0:
        raise TranscriptError(f"{where} must be a finite number ≥ 0, got {_shown(value)}")
    return number


def _optional_number(value: Any, where: str) -> float | None:
    if value is None:
        return None
    number = None if isinstance(value, bool) or not isinstance(value, (int, float)) else _finite(value)
    if number is None:
        raise TranscriptError(f"{where} must be a finite number")
    return number


def _shown(value: Any, limit: int = 40) -> str:
    """A value quoted for an error message, cut short: a hostile file may hold megabytes in one field."""
    try:
        text = repr(value)
    except (ValueError, RecursionError):  # an integer past Python's int-to-string limit, a deep structure
        return f"a {type(value).__name__} too large to show"
    return text if len(text) <= limit else text[:limit] + "…"


def _optional_str(data: dict[str, Any], key: str, where: str = "") -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise TranscriptError(f"'{where}{key}' must be a string, got {type(value).__name__}")
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
        prob = _optional_number(w.get("probability"), f"{where}.words[{j}].probability")
        word = w["word"]
        if isinstance(word, bool) or not isinstance(word, (str, int, float)):
            raise TranscriptError(f"{where}.words[{j}].word must be a string, got {type(word).__name__}")
        words.append(
            Word(
                word=str(word),
                start=_number(w.get("start"), f"{where}.words[{j}].start"),
                end=_number(w.get("end"), f"{where}.words[{j}].end"),
                probability=prob,
            )
        )
    return tuple(words)


def _parse_segment(raw: Any, i: int) -> Segment:
    where = f"segments[{i}]"
    if not isinstance(raw, dict):
        raise TranscriptError(f"{where} must be an object, got {type(raw).__name__}")
    speaker = raw.get("speaker")
    if speaker not in SPEAKERS:
        raise TranscriptError(f"{where}.speaker must be 'agent' or 'customer', got {_shown(speaker)}")
    start = _number(raw.get("start"), f"{where}.start")
    end = _number(raw.get("end"), f"{where}.end")
    if end < start:
        raise TranscriptError(f"{where} ends ({end}) before it starts ({start})")
    text = raw.get("text")
    if not isinstance(text, str):
        raise TranscriptError(f"{where}.text must be a string, got {type(text).__name__}")
    loud = _optional_number(raw.get("loudness_db"), f"{where}.loudness_db (dBFS)")
    return Segment(speaker, start, end, text, _parse_words(raw.get("words"), where), loud)


def _parse_roles(raw: Any) -> RoleDecision | None:
    if raw is None:
        return None
    if not isinstance(raw, dict) or not isinstance(raw.get("agent"), str):
        raise TranscriptError("'audio.roles' must be an object naming the agent track")
    scores = raw.get("scores") or {}
    if not isinstance(scores, dict):
        raise TranscriptError("'audio.roles.scores' must be an object")
    return RoleDecision(
        agent=raw["agent"],
        customer=_optional_str(raw, "customer", "audio.roles."),
        confidence=_optional_number(raw.get("confidence"), "audio.roles.confidence") or 0.0,
        scores={str(k): _optional_number(v, f"audio.roles.scores.{k}") or 0.0 for k, v in scores.items()},
        method=_optional_str(raw, "method", "audio.roles.") or "text",
    )


def _parse_audio(raw: Any) -> AudioMeasures | None:
    """The speech pipeline's measures; transcripts from other systems have none."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise TranscriptError("'audio' must be an object")
    silences = []
    for k, gap in enumerate(raw.get("silences") or []):
        if not isinstance(gap, (list, tuple)) or len(gap) != 2:
            raise TranscriptError(f"audio.silences[{k}] must be [start, end]")
        silences.append((_number(gap[0], f"audio.silences[{k}][0]"), _number(gap[1], f"audio.silences[{k}][1]")))
    warnings = raw.get("warnings") or []
    if not isinstance(warnings, list) or not all(isinstance(w, str) for w in warnings):
        raise TranscriptError("'audio.warnings' must be a list of strings")
    channels = raw.get("channels", 1)
    rate = raw.get("sample_rate", 0)
    if isinstance(channels, bool) or not isinstance(channels, int) or isinstance(rate, bool) or not isinstance(rate, int):
        raise TranscriptError("'audio.channels' and 'audio.sample_rate' must be whole numbers")
    return AudioMeasures(
        duration=_number(raw.get("duration", 0.0), "audio.duration"),
        sample_rate=rate,
        channels=channels,
        separation=_optional_str(raw, "separation", "audio.") or "",
        roles=_parse_roles(raw.get("roles")),
        silences=tuple(silences),
        noise_floor_dbfs=_optional_number(raw.get("noise_floor_dbfs"), "audio.noise_floor_dbfs"),
        talk_ratio=_optional_number(raw.get("talk_ratio"), "audio.talk_ratio"),
        warnings=tuple(warnings),
        sha256=_optional_str(raw, "sha256", "audio."),
        settings=_optional_str(raw, "settings", "audio."),
        model=_optional_str(raw, "model", "audio."),
    )


_KNOWN = ("call_id", "segments", "agent_id", "started_at", "questionnaire", "team", "recording", "audio")


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
    return Transcript(
        call_id=str(call_id),
        segments=segments,
        agent_id=_optional_str(data, "agent_id"),
        started_at=_optional_str(data, "started_at"),
        questionnaire=questionnaire,
        team=_optional_str(data, "team"),
        recording=_optional_str(data, "recording"),
        audio=_parse_audio(data.get("audio")),
        extra={k: v for k, v in data.items() if k not in _KNOWN},
    )


def audio_to_dict(audio: AudioMeasures) -> dict[str, Any]:
    out = asdict(audio)
    out["silences"] = [list(s) for s in audio.silences]
    out["warnings"] = list(audio.warnings)
    return {k: v for k, v in out.items() if v is not None}


def transcript_to_dict(t: Transcript) -> dict[str, Any]:
    out: dict[str, Any] = {"call_id": t.call_id}
    for key in ("agent_id", "started_at", "questionnaire", "team", "recording"):
        value = getattr(t, key)
        if value is not None:
            out[key] = value
    out.update(t.extra)
    if t.audio is not None:
        out["audio"] = audio_to_dict(t.audio)
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
