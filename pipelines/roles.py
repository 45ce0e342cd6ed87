"""Stage 3b: which speaker is the agent, decided from what each says.

Not from who spoke first or which channel is left: agents introduce themselves with the company, their
name or 工号 and the purpose, ask for consent, verify identity and read questionnaire items; customers
answer. Each track is scored on those cues from the lexicons, and the result records how sure it is.
"""

from __future__ import annotations

from callqa.model import RoleDecision
from qa_checks.lexicon import Lexicon
from qa_checks.textnorm import normalize

# cue list in cues.yaml → weight of one hit: the opening is the strongest evidence of the agent
AGENT_CUES = {
    "opening.company": 2.0,
    "opening.agent": 3.0,
    "opening.purpose": 3.0,
    "opening.consent": 2.0,
    "identity.confirm": 3.0,
    "identity.factor": 1.0,
    "thanks": 0.5,
    "farewell": 0.5,
}


def agent_score(texts: list[str], lex: Lexicon) -> float:
    score = 0.0
    for text in texts:
        clean = normalize(text).clean
        for cue, weight in AGENT_CUES.items():
            score += weight * len(lex.cue(cue).search(clean, check_boundaries=False))
        # questionnaire items read out: each item group hit is agent speech
        score += 1.5 * len({tag[0] for h in lex.item_index.search(clean, False) if (tag := h.tag)[1] >= 0})
        score += 0.3 * clean.count("您")
    return score


def assign_roles(texts_by_track: dict[str, list[str]], lex: Lexicon) -> RoleDecision:
    labels = sorted(texts_by_track)
    scores = {label: round(agent_score(texts_by_track[label], lex), 2) for label in labels}
    if not labels:
        raise ValueError("no speaker tracks to assign")
    ranked = sorted(labels, key=lambda k: (-scores[k], -sum(len(t) for t in texts_by_track[k])))
    agent = ranked[0]
    customer = ranked[1] if len(ranked) > 1 else None
    total = sum(scores.values())
    if total <= 0:
        # nothing an agent says anywhere: the agent usually talks more; record that this is a guess
        return RoleDecision(agent, customer, 0.5, scores, "most_speech")
    return RoleDecision(agent, customer, round(scores[agent] / total, 3), scores)
