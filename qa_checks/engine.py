"""Run every rule family on a transcript and put the result together (CONTRACT.md output)."""

from __future__ import annotations

from callqa.model import CallResult, Finding, Transcript

from .call import AnalyzedCall
from .dynamics import check_dead_air, check_interruption, check_loud
from .events import check_alerts, check_handling
from .forbidden import check_filler, check_forbidden
from .identity import check_identity
from .lexicon import Lexicon, load_lexicon
from .opening import check_closing, check_courtesy, check_opening
from .questions import analyze_questions, check_questionnaire, checklist
from .rate import check_rate
from .scoring import score

_SEVERITY_ORDER = {"critical": 0, "major": 1, "minor": 2, "info": 3}


def check_call(transcript: Transcript, lexicon: Lexicon | None = None) -> CallResult:
    """Score one call against the whole rulebook. Pure: no I/O beyond the (cached) lexicon."""
    lex = lexicon or load_lexicon()
    call = AnalyzedCall(transcript, lex)
    qa = analyze_questions(call)
    findings: list[Finding] = []
    metrics: dict[str, object] = {}
    findings += check_opening(call)
    f, m = check_courtesy(call)
    findings += f
    metrics.update(m)
    findings += check_closing(call)
    findings += check_forbidden(call)
    f, m = check_filler(call)
    findings += f
    metrics.update(m)
    f, m = check_rate(call)
    findings += f
    metrics.update(m)
    findings += check_questionnaire(call)
    findings += check_identity(call)
    findings += check_alerts(call)
    findings += check_handling(call)
    f, m = check_interruption(call)
    findings += f
    metrics.update(m)
    findings += check_loud(call)
    f, m = check_dead_air(call)
    findings += f
    metrics.update(m)

    findings = [f for f in findings if lex.rules[f.rule].enabled]
    findings.sort(key=lambda f: (f.kind != "violation", _SEVERITY_ORDER[f.severity], f.start))
    overall, dims, passed = score(findings, lex)
    a_secs = float(metrics.get("agent_speaking_seconds", 0.0))  # type: ignore[arg-type]
    c_secs = float(metrics.get("customer_speaking_seconds", 0.0))  # type: ignore[arg-type]
    metrics.update({
        "duration": round(transcript.duration, 2),
        "segments": len(transcript.segments),
        "talk_ratio": round(a_secs / (a_secs + c_secs), 3) if a_secs + c_secs > 0 else None,
        "items_asked": len(qa.first),
        "items_total": len(qa.items),
        "early_end": qa.early_end[1] if qa.early_end else None,
    })
    q = qa.questionnaire[0] if len(qa.questionnaire) == 1 else list(qa.questionnaire)
    return CallResult(
        call_id=transcript.call_id,
        questionnaire=q,
        questionnaire_source=qa.source,
        score=overall,
        passed=passed,
        dimensions=dims,
        findings=findings,
        metrics=metrics,
        agent_id=transcript.agent_id,
        started_at=transcript.started_at,
        team=transcript.team,
        recording=transcript.recording,
        checklist=checklist(call),
    )
