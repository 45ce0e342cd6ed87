"""Conversation dynamics from segment timing: the agent cutting in while the customer speaks (000 禁止直接打断客户)."""

from __future__ import annotations

from callqa.model import Finding

from .call import AnalyzedCall


def check_interruption(call: AnalyzedCall) -> tuple[list[Finding], dict[str, object]]:
    lex = call.lex
    min_overlap = float(lex.setting("dynamics.interruption_min_overlap"))
    min_chars = int(lex.setting("dynamics.interruption_min_chars"))
    out: list[Finding] = []
    count = 0
    customers = call.customer
    for a in call.agent:
        if len(a.clean) < min_chars:
            continue  # 嗯 / 好的 / 对 over the customer is listening, not cutting in
        for c in customers:
            if c.seg.start >= a.seg.start:
                break
            overlap = min(a.seg.end, c.seg.end) - a.seg.start
            if c.seg.end > a.seg.start and overlap >= min_overlap:
                count += 1
                out.append(call.finding("dynamics.interruption", a, a.seg.start, min(a.seg.end, c.seg.end), a.seg.text,
                                        f"客户尚在讲话(「{c.seg.text[:20]}」),坐席插话重叠{overlap:.1f}秒"))
                break
    return out, {"interruptions": count}
