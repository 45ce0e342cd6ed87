"""A call's review page: the conversation with its findings, the audio, the checklist and the scores.

The page is one self-contained HTML file (styles and scripts inline, no network), so it opens from
disk; the server renders the same page with its own audio address and the review controls on.
Personal numbers are masked before anything reaches the page.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any

from markupsafe import Markup

from callqa.model import SEVERITIES
from qa_checks.lexicon import Lexicon
from results.files import read_json, safe_name
from results.schema import run_of, status_of

from .labels import ANSWER_LABEL, DIMENSION_LABEL, KIND_LABEL, SEVERITY_LABEL, SPEAKER_LABEL
from .masking import mask_numbers
from .ratecurve import rate_curve, rate_svg
from .render import render

SEVERITY_ORDER = {s: i for i, s in enumerate(SEVERITIES)}
HIGHLIGHT_SPAN_S = 20.0  # a finding longer than this marks lines only where its evidence is found
_EVIDENCE_SPLIT = re.compile(r"[…｜|/；;]+|\.\.\.")


class CallNotFound(LookupError):
    pass


@dataclass
class Line:
    index: int
    speaker: str
    start: float
    end: float
    html: Markup
    severity: str | None = None  # the worst finding on the line

    @property
    def label(self) -> str:
        return SPEAKER_LABEL.get(self.speaker, self.speaker)


@dataclass
class FindingView:
    key: str
    rule: str
    kind: str
    severity: str
    message: str
    evidence: str
    start: float | None
    end: float | None
    item: str | None
    lines: list[int] = field(default_factory=list)
    status: str = ""  # violation, alert, or needs_review (to verify: the recogniser was unsure)
    confidence: float | None = None

    @property
    def to_verify(self) -> bool:
        return self.status == "needs_review"

    @property
    def severity_label(self) -> str:
        return SEVERITY_LABEL.get(self.severity, self.severity)

    @property
    def kind_label(self) -> str:
        return KIND_LABEL.get(self.kind, self.kind)


@dataclass
class CallView:
    call_id: str
    result: dict[str, Any]
    lines: list[Line]
    findings: list[FindingView]
    checklist: list[dict[str, Any]]
    dimensions: list[tuple[str, float]]
    rate_svg: Markup
    audio_src: str | None
    run_id: str = ""  # the scoring shown: decisions are recorded against it


def finding_key(index: int, finding: dict[str, Any]) -> str:
    """Stable within one scoring of a call: position, rule and start."""
    return f"{index}:{finding['rule']}:{finding.get('start')}"


def load_result(out_dir: Path, call_id: str) -> dict[str, Any]:
    path = out_dir / "results" / f"{safe_name(call_id)}.json"
    if not path.is_file():
        raise CallNotFound(f"call {call_id!r}: no result at {path}")
    return read_json(path)


def load_call(out_dir: Path, call_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A call's result and transcript (a call scored without a transcript shows no conversation)."""
    transcript_path = out_dir / "transcripts" / f"{safe_name(call_id)}.json"
    result = load_result(out_dir, call_id)
    return result, read_json(transcript_path) if transcript_path.is_file() else {"segments": []}


def _spans(text: str, evidence: str) -> list[tuple[int, int]]:
    spans = []
    for frag in filter(None, (f.strip(" ，,。") for f in _EVIDENCE_SPLIT.split(evidence))):
        at = text.find(frag)
        if at >= 0:
            spans.append((at, at + len(frag)))
    return spans


def _marked(text: str, spans: list[tuple[int, int]]) -> Markup:
    out, pos = [], 0
    for a, b in sorted(spans):
        if a < pos:  # overlapping marks merge into the one already open
            a = pos
        if a >= b:
            continue
        out += [escape(text[pos:a]), "<mark>", escape(text[a:b]), "</mark>"]
        pos = b
    out.append(escape(text[pos:]))
    return Markup("".join(out))


def build_view(result: dict[str, Any], transcript: dict[str, Any], lex: Lexicon,
               audio_src: str | None) -> CallView:
    segments = transcript.get("segments", [])
    texts = [mask_numbers(s.get("text", "")) for s in segments]
    marks: list[list[tuple[int, int]]] = [[] for _ in segments]
    worst: list[str | None] = [None] * len(segments)
    findings: list[FindingView] = []
    for i, f in enumerate(result.get("findings", [])):
        evidence = mask_numbers(f.get("evidence") or "")
        view = FindingView(finding_key(i, f), f["rule"], f["kind"], f["severity"], mask_numbers(f.get("message") or ""),
                           evidence, f.get("start"), f.get("end"), f.get("item"), status=status_of(f),
                           confidence=f.get("confidence"))
        start, end = f.get("start"), f.get("end")
        if start is not None and end is not None:
            for k, seg in enumerate(segments):
                if seg["end"] <= start or seg["start"] >= end:
                    continue
                if f.get("speaker") and seg.get("speaker") != f["speaker"]:
                    continue
                found = _spans(texts[k], evidence) if evidence else []
                if found or end - start <= HIGHLIGHT_SPAN_S:
                    view.lines.append(k)
                    marks[k] += found
                    if worst[k] is None or SEVERITY_ORDER[f["severity"]] < SEVERITY_ORDER[worst[k]]:
                        worst[k] = f["severity"]
        findings.append(view)
    findings.sort(key=lambda v: (SEVERITY_ORDER.get(v.severity, 9), v.start if v.start is not None else 0.0))
    lines = [Line(k, s.get("speaker", "?"), s["start"], s["end"], _marked(texts[k], marks[k]), worst[k])
             for k, s in enumerate(segments)]
    duration = float(result.get("metrics", {}).get("duration") or (segments[-1]["end"] if segments else 0.0))
    svg = rate_svg(rate_curve(transcript, lex) if segments else [], duration,
                   float(lex.setting("rate.lower")), float(lex.setting("rate.upper")))
    checklist = [dict(row, answer_label=ANSWER_LABEL.get(row.get("answer") or "none", row.get("answer")))
                 for row in result.get("checklist", [])]
    dims = [(DIMENSION_LABEL.get(k, k), float(v)) for k, v in result.get("dimensions", {}).items()]
    return CallView(result["call_id"], result, lines, findings, checklist, dims, Markup(svg), audio_src, run_of(result))


def render_review(view: CallView, *, queue_href: str, server: bool) -> str:
    return render("review.html.j2", v=view, r=view.result, m=view.result.get("metrics", {}),
                  queue_href=queue_href, server=server)
