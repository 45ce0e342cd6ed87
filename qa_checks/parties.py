"""Who is on the line: a third party instead of the policyholder, and the agent's second-factor checks.

Both the identity rules and the questionnaire analysis need these (a third party ends the
questionnaire legitimately; a second factor asked counts as the identity item), so they live below both.
"""

from __future__ import annotations

from .call import AnalyzedCall, SegmentView
from .registry import Needs
from .script import NEEDS as SCRIPT_NEEDS
from .script import agent_turns, heard, speech_of
from .textmatch import Hit

THIRD_PARTY_NEEDS = Needs(cues=("identity.third_party", "identity.handover"))
FACTOR_NEEDS = SCRIPT_NEEDS + Needs(cues=("identity.factor", "identity.sensitive"))


def third_party_turn(call: AnalyzedCall) -> SegmentView | None:
    """The customer utterance saying they are not the policyholder, unless the policyholder then comes on."""
    tp_index = call.lex.cue("identity.third_party")
    handover = call.lex.cue("identity.handover")
    for u in call.customer:
        if call.find(u, tp_index):
            later = [c for c in call.customer if c.seg.start > u.seg.start]
            if any(call.find(c, handover) for c in later):
                return None
            return u
    return None


def factor_hits(call: AnalyzedCall, until: float | None) -> list[tuple[SegmentView, Hit]]:
    """Second-factor checks by the agent (birth date, ID digits, phone on file, policy facts) up to `until`.

    Only before the questionnaire proper: the phone number checked at the end (contact_check) is not
    identity verification. Asking for the full ID number is the wrong way to verify
    (identity.sensitive_request), but it is a second factor all the same.
    """
    indexes = (call.lex.cue("identity.factor"), call.lex.cue("identity.sensitive"))
    hits = [(u, h) for u in call.agent if until is None or u.seg.start <= until
            for idx in indexes for h in call.find(u, idx, boundaries=False)]
    if hits:
        return hits
    # a second look by sound: 先分证后四位许多少 is still 身份证后四位是多少
    turns = agent_turns(call, lambda u: until is None or u.seg.start <= until)
    return [(h.first, Hit(h.start, h.end if h.last is h.first else len(h.first.clean), h.template.text,
                          "identity_factor", homophone=True))
            for h in heard(call, call.lex.script("identity_factor"), speech_of(turns))[:1]]
