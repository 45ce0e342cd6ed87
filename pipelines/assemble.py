"""Putting a call together: speaker utterances + roles + audio measures → the contract transcript.

These are the steps between the speech stages and the QA checks; plain functions, so the flow stays
thin and everything here is testable without Prefect.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from callqa.model import AudioMeasures, RoleDecision, Segment, Transcript, Utterance
from qa_checks import Lexicon

from .audio import SAMPLE_RATE, LoadedAudio
from .manifest import CallMeta
from .measures import ACTIVE_DB, EDGE_DB, HOP, active_frames, levels_db, measure, segment_loudness
from .roles import assign_roles
from .settings import PipelineSettings
from .speakers import Separation, Track

MIN_TURN_GAP_S = 0.2
# pauses inside one turn (a sentence's clauses, a breath): a longer one, or the other side speaking, starts a
# new utterance
JOIN_MAX_GAP_S = 1.0
_PUNCT = "，。？！、；：,.?!;:"


def track_activity(audio: LoadedAudio, track: Track, above: float = EDGE_DB) -> tuple[np.ndarray, np.ndarray]:
    """Frame times and whether this speaker's signal is active in each frame: their own channel above its
    noise floor, or in a mono mix the signal inside their diarised turns."""
    db = levels_db(audio, track.channel)
    active, _ = active_frames(db, above)
    times = np.arange(len(db)) * HOP / SAMPLE_RATE
    if track.channel is None:  # only this speaker's turns count as their speech
        own = np.zeros(len(times), dtype=bool)
        for a, b in track.turns:
            own |= (times >= a) & (times <= b)
        active = active & own
    return times, active


def refine_times(utterances: dict[str, list[Utterance]], audio: LoadedAudio, separation: Separation) -> dict[str, list[Utterance]]:
    """Snap utterance edges to where the signal says this speaker's speech starts and stops.

    Recogniser word times drift by half a second or more. On a channel of its own the signal shows
    when the speaker started; in a mono mix, the same holds inside the speaker's diarised turns. Both
    overlap (interruption) and speaking-rate measures need those edges.
    """
    tracks = {t.label: t for t in separation.tracks}
    out: dict[str, list[Utterance]] = {}
    for label, utts in utterances.items():
        times, active = track_activity(audio, tracks[label])
        out[label] = [_snap(u, times, active) for u in utts]
    return out


def join_turns(utterances: dict[str, list[Utterance]], audio: LoadedAudio, separation: Separation,
               max_gap: float = JOIN_MAX_GAP_S) -> dict[str, list[Utterance]]:
    """One utterance per turn: a speaker's consecutive pieces are joined when nobody else speaks between
    them (no word of another track, no signal on another track) and the pause is short.

    The recogniser cuts a turn into sub-sentence pieces and drops the pauses between them; the rulebook's
    speaking time is the utterance from its first to its last word, pauses inside included, so the pieces of
    a turn are measured as one (a call at 132 字/分钟 otherwise measures 144).
    """
    tracks = {t.label: t for t in separation.tracks}
    activity = {label: track_activity(audio, tracks[label], ACTIVE_DB) for label in utterances}
    out: dict[str, list[Utterance]] = {}
    for label, utts in utterances.items():
        others = [(w.start, w.end) for other, us in utterances.items() if other != label for u in us for w in u.words]
        others += [(u.start, u.end) for other, us in utterances.items() if other != label for u in us if not u.words]
        signal = [activity[other] for other in utterances if other != label]
        joined: list[Utterance] = []
        for u in sorted(utts, key=lambda x: x.start):
            if joined and _joinable(joined[-1], u, others, signal, max_gap):
                joined[-1] = _join(joined[-1], u)
            else:
                joined.append(u)
        out[label] = joined
    return out


def _joinable(a: Utterance, b: Utterance, others: list[tuple[float, float]],
              signal: list[tuple[np.ndarray, np.ndarray]], max_gap: float) -> bool:
    t0, t1 = a.end, b.start
    if t1 - t0 > max_gap:
        return False
    if any(s < t1 and e > t0 for s, e in others):
        return False
    return not any(active[(times >= t0) & (times <= t1)].any() for times, active in signal)


def _join(a: Utterance, b: Utterance) -> Utterance:
    glue = "" if (a.text and a.text[-1] in _PUNCT) or (b.text and b.text[0] in _PUNCT) else "，"
    probs = [p for p in (a.avg_logprob, b.avg_logprob) if p is not None]
    nsp = [p for p in (a.no_speech_prob, b.no_speech_prob) if p is not None]
    return Utterance(a.start, max(a.end, b.end), a.text + glue + b.text, a.words + b.words,
                     min(probs) if probs else None, max(nsp) if nsp else None)


def _snap(u: Utterance, times: np.ndarray, active: np.ndarray) -> Utterance:
    window = (times >= u.start - 0.5) & (times <= u.end + 0.5) & active
    if not window.any():
        return u
    idx = np.flatnonzero(window)
    # a frame is centred on its time and half a frame wide each side: the sound reaches that far
    half = HOP / SAMPLE_RATE
    # only move towards the signal's edges, at most a little: never stretch over a neighbour's speech
    start = min(max(float(times[idx[0]]) - half, u.start - 0.5), u.start + 1.0)
    start = max(start, 0.0)  # speech at the very first frame (a recording cut mid-sentence) starts at 0
    end = max(min(float(times[idx[-1]]) + half, u.end + 0.5), u.end - 1.0)
    return replace(u, start=round(start, 3), end=round(max(end, start), 3))


def split_at_other_speech(utterances: dict[str, list[Utterance]]) -> dict[str, list[Utterance]]:
    """End an utterance where the other side speaks: a turn is over when the customer answers.

    The recogniser hears each channel alone and may run an agent's three questions into one segment
    across the customer's short answers; cut it at every gap in which another track has a word.
    """
    others = {label: [(w.start, w.end) for other, utts in utterances.items() if other != label
                      for u in utts for w in (u.words or ())]
              for label in utterances}
    out: dict[str, list[Utterance]] = {}
    for label, utts in utterances.items():
        starts = others[label]
        pieces: list[Utterance] = []
        for u in utts:
            if len(u.words) < 2 or not starts:
                pieces.append(u)
                continue
            run = [u.words[0]]
            for w in u.words[1:]:
                gap_start, gap_end = run[-1].end, w.start
                # word times are rough: any word of the other side overlapping the pause cuts the turn
                if gap_end - gap_start >= MIN_TURN_GAP_S and any(a < gap_end and b > gap_start for a, b in starts):
                    pieces.append(_piece(run, u))
                    run = []
                run.append(w)
            pieces.append(_piece(run, u))
        out[label] = pieces
    return out


def _piece(words: list, u: Utterance) -> Utterance:
    if len(words) == len(u.words):
        return u
    return Utterance(words[0].start, max(words[-1].end, words[0].start), "".join(w.word for w in words),
                     tuple(words), u.avg_logprob, u.no_speech_prob)


def decide_roles(utterances: dict[str, list[Utterance]], lex: Lexicon) -> RoleDecision:
    return assign_roles({label: [u.text for u in utts] for label, utts in utterances.items()}, lex)


def build_transcript(meta: CallMeta, audio: LoadedAudio, separation: Separation,
                     utterances: dict[str, list[Utterance]], roles: RoleDecision,
                     settings: PipelineSettings) -> Transcript:
    tracks: dict[str, Track] = {t.label: t for t in separation.tracks}
    segments: list[Segment] = []
    for label, utts in utterances.items():
        speaker = "agent" if label == roles.agent else "customer"
        track = tracks[label]
        samples = audio.samples[track.channel] if track.channel is not None else audio.mono
        for u in utts:
            segments.append(Segment(speaker, u.start, u.end, u.text, u.words,
                                    segment_loudness(samples, u.start, u.end)))
    segments.sort(key=lambda s: (s.start, s.end))
    agent_time = sum(s.duration for s in segments if s.speaker == "agent")
    customer_time = sum(s.duration for s in segments if s.speaker == "customer")
    m = measure(audio, agent_time, customer_time, [(s.start, s.end) for s in segments])
    info = audio.info
    measures = AudioMeasures(
        duration=info.duration, sample_rate=info.sample_rate, channels=info.channels, separation=separation.method,
        roles=roles, silences=tuple(m.silences), noise_floor_dbfs=m.noise_floor_dbfs, talk_ratio=m.talk_ratio,
        warnings=tuple(info.warnings), sha256=info.sha256, settings=settings.fingerprint(),
        model=settings.whisper_model,
    )
    return Transcript(call_id=meta.call_id, segments=segments, agent_id=meta.agent_id, started_at=meta.started_at,
                      questionnaire=meta.questionnaire, team=meta.team, recording=meta.recording or info.path,
                      audio=measures)
