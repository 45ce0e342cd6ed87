"""Score a call from its findings: 100 down by the rules' weights, overall and per dimension.

Alerts never lower the score (they are business events); any critical violation fails the call
(一票否决). A rule deducts at most `per_rule_cap` times its weight, so one habit repeated ten times does
not drown every other finding.
"""

from __future__ import annotations

from callqa.model import DIMENSIONS, Finding, Kind, Severity

from .lexicon import Lexicon


def score(findings: list[Finding], lex: Lexicon) -> tuple[float, dict[str, float], bool]:
    start = float(lex.setting("scoring.start"))
    cap = float(lex.setting("scoring.per_rule_cap"))
    deducted: dict[str, float] = {}
    for f in findings:
        if f.kind != Kind.VIOLATION or f.weight <= 0 or not f.asserted:
            continue
        limit = cap * f.weight
        deducted[f.rule] = min(limit, deducted.get(f.rule, 0.0) + f.weight)
    dims = {d: start for d in DIMENSIONS}
    for rule, points in deducted.items():
        dim = lex.rules[rule].dimension
        dims[dim] -= points
    overall = max(0.0, start - sum(deducted.values()))
    passed = not any(f.kind == Kind.VIOLATION and f.severity == Severity.CRITICAL and f.asserted for f in findings)
    return round(overall, 1), {d: round(max(0.0, v), 1) for d, v in dims.items()}, passed
