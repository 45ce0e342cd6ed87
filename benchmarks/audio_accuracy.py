"""How findings hold on recordings: the audio benchmark's calls scored on their source text and on audio.

For the calls of benchmarks/audio_bench (labelled transcripts made into telephone audio), given the
output folder of `callqa run` on their audio, prints side by side:

- precision and recall per rule id, and micro over rule ids, on the source text (the truth transcript
  through qa_checks.check_call) and on the audio (the run's results/<call_id>.json), with the gap; a
  rule counts once per call, as in qa_accuracy.py; a finding whose status is "needs_review" is not a
  prediction, it is counted in a column of its own (on a labelled rule or not);
- character error rate per call and overall (agent, customer, all), on normalised text;
- role attribution: the share of the characters recognised as one role's that lie inside that role's
  true speech;
- customer-turn recall: the share of true customer turns that the recognised transcript gives any
  customer speech in, and the same for short turns (at most 4 characters);
- rate error: the run's agent rate over the call and over its worst window against the truth's.

    python benchmarks/audio_accuracy.py --results DIR [--run] [--calls AB01 AB07 1:8 committed] [--json] [--verbose]

`--run` first runs `callqa run` on the calls' audio into DIR (generate missing audio with
benchmarks/audio_bench/make_corpus.py). The functions below are importable, for tests on a slice.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks" / "audio_bench"))

from corpus import CallSpec, load_calls, select  # noqa: E402

from callqa.model import transcript_from_dict  # noqa: E402
from qa_checks import check_call, load_lexicon  # noqa: E402
from qa_checks.textnorm import normalize  # noqa: E402

NEEDS_REVIEW = "needs_review"
SHORT_TURN_CHARS = 4
COLLAR = 0.25  # seconds around a true segment within which recognised speech still counts as inside it
RATE_WHOLE_TOLERANCE = 0.05
RATE_WINDOW_TOLERANCE = 0.08


# ------------------------------------------------------------------------------------------- text


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance, one numpy row at a time (insertions resolved by a running minimum)."""
    if not a or not b:
        return len(a) or len(b)
    bb = np.frombuffer(b.encode("utf-32-le"), dtype=np.uint32)
    idx = np.arange(len(b) + 1)
    prev = idx.copy()
    for i, ch in enumerate(a.encode("utf-32-le")[k : k + 4] for k in range(0, 4 * len(a), 4)):
        cost = (bb != np.frombuffer(ch, dtype=np.uint32)[0]).astype(np.int64)
        x = np.empty_like(prev)
        x[0] = i + 1
        x[1:] = np.minimum(prev[1:] + 1, prev[:-1] + cost)
        prev = np.minimum.accumulate(x - idx) + idx
    return int(prev[-1])


def clean(text: str) -> str:
    return normalize(text).clean


def side_text(segments: list[dict], speaker: str | None = None) -> str:
    """The normalised text of one side (or both), in time order."""
    segs = sorted((s for s in segments if speaker in (None, s["speaker"])), key=lambda s: s["start"])
    return "".join(clean(s["text"]) for s in segs)


def cer_counts(hyp: list[dict], ref: list[dict], speaker: str | None = None) -> tuple[int, int]:
    """(edits, reference characters) for one side, or for the whole call when speaker is None."""
    r = side_text(ref, speaker)
    return edit_distance(side_text(hyp, speaker), r), len(r)


# ------------------------------------------------------------------------------------ who and when


def timed_chars(segments: list[dict]) -> list[tuple[str, float]]:
    """(speaker, time) per recognised character: a word's characters at its middle; a segment without
    word timings spreads its characters evenly."""
    out = []
    for s in segments:
        words = s.get("words") or []
        if words:
            for w in words:
                out += [(s["speaker"], (w["start"] + w["end"]) / 2)] * len(clean(w["word"]))
        else:
            n = len(clean(s["text"]))
            out += [(s["speaker"], s["start"] + (k + 0.5) * (s["end"] - s["start"]) / n) for k in range(n)]
    return out


def inside(t: float, spans: list[tuple[float, float]], collar: float = COLLAR) -> bool:
    return any(a - collar <= t <= b + collar for a, b in spans)


def role_attribution(hyp: list[dict], ref: list[dict], role: str) -> tuple[int, int]:
    """(characters recognised as `role` lying inside the role's true speech, characters recognised as `role`)."""
    spans = [(s["start"], s["end"]) for s in ref if s["speaker"] == role]
    mine = [t for who, t in timed_chars(hyp) if who == role]
    return sum(inside(t, spans) for t in mine), len(mine)


def customer_turns_heard(hyp: list[dict], ref: list[dict]) -> tuple[list[bool], list[bool]]:
    """Per true customer turn: whether any recognised customer speech overlaps it, and whether it is short."""
    heard_at = [t for who, t in timed_chars(hyp) if who == "customer"]
    spans = [(s["start"], s["end"]) for s in hyp if s["speaker"] == "customer" and clean(s["text"])]
    heard, short = [], []
    for s in ref:
        if s["speaker"] != "customer":
            continue
        a, b = s["start"] - COLLAR, s["end"] + COLLAR
        heard.append(any(a <= t <= b for t in heard_at) or any(x < b and a < y for x, y in spans))
        short.append(len(clean(s["text"])) <= SHORT_TURN_CHARS)
    return heard, short


# --------------------------------------------------------------------------------------- findings


def rules_found(result: dict) -> tuple[set[str], set[str]]:
    """(rules asserted, rules only flagged for review) of one result, a rule once per call."""
    asserted = {f["rule"] for f in result["findings"] if f.get("status") != NEEDS_REVIEW}
    review = {f["rule"] for f in result["findings"] if f.get("status") == NEEDS_REVIEW} - asserted
    return asserted, review


def text_result(truth: dict) -> dict:
    """The engine on the call's source text: the truth transcript as the contract reads it."""
    return check_call(transcript_from_dict(truth), load_lexicon()).to_dict()


@dataclass
class RuleTally:
    tp: Counter[str] = field(default_factory=Counter)
    fp: Counter[str] = field(default_factory=Counter)
    fn: Counter[str] = field(default_factory=Counter)

    def add(self, labelled: set[str], found: set[str]) -> None:
        for r in found & labelled:
            self.tp[r] += 1
        for r in found - labelled:
            self.fp[r] += 1
        for r in labelled - found:
            self.fn[r] += 1

    def rules(self) -> set[str]:
        return set(self.tp) | set(self.fp) | set(self.fn)

    def precision(self, rule: str | None = None) -> float:
        tp, fp = (self.tp[rule], self.fp[rule]) if rule else (sum(self.tp.values()), sum(self.fp.values()))
        return tp / (tp + fp) if tp + fp else float("nan")

    def recall(self, rule: str | None = None) -> float:
        tp, fn = (self.tp[rule], self.fn[rule]) if rule else (sum(self.tp.values()), sum(self.fn.values()))
        return tp / (tp + fn) if tp + fn else float("nan")

    def totals(self) -> dict[str, float | int]:
        return {"precision": self.precision(), "recall": self.recall(), "tp": sum(self.tp.values()),
                "fp": sum(self.fp.values()), "fn": sum(self.fn.values())}


# ---------------------------------------------------------------------------------------- a call


@dataclass
class CallScore:
    call_id: str
    labelled: set[str]
    text_rules: set[str]
    audio_rules: set[str]
    review_rules: set[str]
    cer: dict[str, tuple[int, int]]  # agent | customer | all → (edits, reference characters)
    roles: dict[str, tuple[int, int]]  # agent | customer → (inside, recognised)
    turns: list[bool]
    short: list[bool]
    rate: dict[str, float | None]  # truth/audio whole-call and worst-window agent rates
    layout: str
    audio_findings: list[dict]
    text_findings: list[dict]


def find_run_files(results: Path, call_id: str) -> tuple[dict, dict] | None:
    rpath, tpath = results / "results" / f"{call_id}.json", results / "transcripts" / f"{call_id}.json"
    if not (rpath.exists() and tpath.exists()):
        return None
    return json.loads(rpath.read_text(encoding="utf-8")), json.loads(tpath.read_text(encoding="utf-8"))


def window_rate(metrics: dict) -> float | None:
    w = metrics.get("worst_window")
    return float(w["chars_per_min"]) if w else None


def score_call(truth: dict, result: dict, transcript: dict) -> CallScore:
    ref, hyp = truth["segments"], transcript["segments"]
    text = text_result(truth)
    asserted, review = rules_found(result)
    heard, short = customer_turns_heard(hyp, ref)
    return CallScore(
        call_id=truth["call_id"],
        labelled=set(truth["planted"]),
        text_rules=rules_found(text)[0],
        audio_rules=asserted,
        review_rules=review,
        cer={side: cer_counts(hyp, ref, None if side == "all" else side) for side in ("agent", "customer", "all")},
        roles={role: role_attribution(hyp, ref, role) for role in ("agent", "customer")},
        turns=heard,
        short=short,
        rate={
            "truth_whole": float(text["metrics"].get("agent_chars_per_min") or 0.0),
            "audio_whole": float(result["metrics"].get("agent_chars_per_min") or 0.0),
            "truth_window": window_rate(text["metrics"]),
            "audio_window": window_rate(result["metrics"]),
        },
        layout="stereo" if "channels" in truth else "mono",
        audio_findings=result["findings"],
        text_findings=text["findings"],
    )


def score_calls(calls: list[CallSpec], results: Path) -> tuple[list[CallScore], list[str]]:
    """Scores of the calls the run holds, and the call ids it does not hold."""
    scores, missing = [], []
    for spec in calls:
        got = find_run_files(results, spec.call_id)
        if got is None:
            missing.append(spec.call_id)
            continue
        scores.append(score_call(spec.truth(), *got))
    return scores, missing


# ----------------------------------------------------------------------------------------- totals


def ratio(a: float, b: float) -> float:
    return a / b if b else float("nan")


def rel_error(audio: float | None, truth: float | None) -> float | None:
    if audio is None or not truth:
        return None
    return audio / truth - 1.0


def totals(scores: list[CallScore]) -> dict:
    text, audio = RuleTally(), RuleTally()
    review_on, review_off = Counter(), Counter()
    for s in scores:
        text.add(s.labelled, s.text_rules)
        audio.add(s.labelled, s.audio_rules)
        for r in s.review_rules:
            (review_on if r in s.labelled else review_off)[r] += 1
    rules = sorted(text.rules() | audio.rules() | set(review_on) | set(review_off))
    per_rule = {
        r: {"labelled": text.tp[r] + text.fn[r],
            "text": {"tp": text.tp[r], "fp": text.fp[r], "fn": text.fn[r]},
            "audio": {"tp": audio.tp[r], "fp": audio.fp[r], "fn": audio.fn[r]},
            "review_on_labelled": review_on[r], "review_not_labelled": review_off[r]}
        for r in rules
    }
    cer = {side: ratio(sum(s.cer[side][0] for s in scores), sum(s.cer[side][1] for s in scores))
           for side in ("agent", "customer", "all")}
    roles = {}
    for layout in ("stereo", "mono", "all"):
        group = [s for s in scores if layout in ("all", s.layout)]
        roles[layout] = {role: ratio(sum(s.roles[role][0] for s in group), sum(s.roles[role][1] for s in group))
                         for role in ("agent", "customer")}
    heard = [h for s in scores for h in s.turns]
    short = [h for s in scores for h, sh in zip(s.turns, s.short, strict=True) if sh]
    whole = [rel_error(s.rate["audio_whole"], s.rate["truth_whole"]) for s in scores]
    window = [rel_error(s.rate["audio_window"], s.rate["truth_window"]) for s in scores]
    whole = [e for e in whole if e is not None]
    window = [e for e in window if e is not None]
    false_rate = [(s.call_id, r) for s in scores for r in sorted(s.audio_rules - s.labelled) if r.startswith("rate.")]
    return {
        "calls": len(scores),
        "text": text.totals(),
        "audio": audio.totals(),
        "gap": {"precision": text.precision() - audio.precision(), "recall": text.recall() - audio.recall()},
        "needs_review": {"on_labelled": sum(review_on.values()), "not_labelled": sum(review_off.values())},
        "per_rule": per_rule,
        "cer": cer,
        "role_attribution": roles,
        "customer_turn_recall": {"all": ratio(sum(heard), len(heard)), "turns": len(heard),
                                 "short": ratio(sum(short), len(short)), "short_turns": len(short)},
        "rate": {
            "whole_within_5pct": sum(abs(e) <= RATE_WHOLE_TOLERANCE for e in whole), "whole_calls": len(whole),
            "whole_mean_abs_error": float(np.mean(np.abs(whole))) if whole else float("nan"),
            "window_within_8pct": sum(abs(e) <= RATE_WINDOW_TOLERANCE for e in window), "window_calls": len(window),
            "window_mean_abs_error": float(np.mean(np.abs(window))) if window else float("nan"),
            "false_rate_findings": [f"{c}: {r}" for c, r in false_rate],
        },
    }


# ---------------------------------------------------------------------------------------- printing


def fmt(x: float) -> str:
    return "   -" if x != x else f"{x:4.2f}"


def print_report(scores: list[CallScore], t: dict, verbose: bool = False) -> None:
    print(f"{'rule':28} {'lab':>3} | {'text TP FP FN':>13} {'P':>4} {'R':>4} | {'audio TP FP FN':>14} {'P':>4} {'R':>4} "
          f"| {'ΔP':>5} {'ΔR':>5} | review on/off")
    for rule, d in t["per_rule"].items():
        tx, au = d["text"], d["audio"]
        tp_, ap_ = ratio(tx["tp"], tx["tp"] + tx["fp"]), ratio(au["tp"], au["tp"] + au["fp"])
        tr_, ar_ = ratio(tx["tp"], tx["tp"] + tx["fn"]), ratio(au["tp"], au["tp"] + au["fn"])
        dp = "    -" if tp_ != tp_ or ap_ != ap_ else f"{tp_ - ap_:+5.2f}"
        dr = "    -" if tr_ != tr_ or ar_ != ar_ else f"{tr_ - ar_:+5.2f}"
        print(f"{rule:28} {d['labelled']:3d} | {tx['tp']:5d} {tx['fp']:2d} {tx['fn']:2d} {fmt(tp_)} {fmt(tr_)} | "
              f"{au['tp']:6d} {au['fp']:2d} {au['fn']:2d} {fmt(ap_)} {fmt(ar_)} | {dp} {dr} | "
              f"{d['review_on_labelled']}/{d['review_not_labelled']}")
    tx, au = t["text"], t["audio"]
    print(f"\n{t['calls']} calls, micro over rule ids:")
    print(f"  source text  precision {tx['precision']:.3f} recall {tx['recall']:.3f} (TP {tx['tp']}, FP {tx['fp']}, FN {tx['fn']})")
    print(f"  audio        precision {au['precision']:.3f} recall {au['recall']:.3f} (TP {au['tp']}, FP {au['fp']}, FN {au['fn']})")
    print(f"  gap          precision {t['gap']['precision']:+.3f} recall {t['gap']['recall']:+.3f}; needs-review findings "
          f"on labelled rules {t['needs_review']['on_labelled']}, on others {t['needs_review']['not_labelled']}")

    print(f"\n{'call':52} {'lay':6} {'CER ag':>6} {'cu':>6} {'all':>6} | {'ag→ag':>6} {'cu→cu':>6} | "
          f"{'turns':>7} {'short':>7} | {'rate t/a':>11} {'win t/a':>11} | audio false / missed")
    for s in scores:
        c = {k: ratio(*v) for k, v in s.cer.items()}
        r = {k: ratio(*v) for k, v in s.roles.items()}
        sh = [h for h, x in zip(s.turns, s.short, strict=True) if x]
        win = (f"{s.rate['truth_window']:.0f}/{s.rate['audio_window']:.0f}"
               if s.rate["truth_window"] is not None and s.rate["audio_window"] is not None else "-")
        print(f"{s.call_id[:52]:52} {s.layout:6} {c['agent']:6.1%} {c['customer']:6.1%} {c['all']:6.1%} | "
              f"{r['agent']:6.1%} {r['customer']:6.1%} | {sum(s.turns):3d}/{len(s.turns):<3d} {sum(sh):3d}/{len(sh):<3d} | "
              f"{s.rate['truth_whole']:5.0f}/{s.rate['audio_whole']:<5.0f} {win:>11} | "
              f"{sorted(s.audio_rules - s.labelled)} / {sorted(s.labelled - s.audio_rules)}")
    cer, roles, turns, rate = t["cer"], t["role_attribution"], t["customer_turn_recall"], t["rate"]
    print(f"\nCER: agent {cer['agent']:.1%}, customer {cer['customer']:.1%}, all {cer['all']:.1%}")
    for layout in ("stereo", "mono", "all"):
        print(f"role attribution ({layout}): recognised agent characters inside agent speech "
              f"{roles[layout]['agent']:.1%}, customer characters inside customer speech {roles[layout]['customer']:.1%}")
    print(f"customer-turn recall: {turns['all']:.1%} of {turns['turns']} turns; short turns (≤ {SHORT_TURN_CHARS} "
          f"characters) {turns['short']:.1%} of {turns['short_turns']}")
    print(f"agent rate: whole call within ±5 % on {rate['whole_within_5pct']}/{rate['whole_calls']} calls "
          f"(mean |error| {rate['whole_mean_abs_error']:.1%}); worst window within ±8 % on "
          f"{rate['window_within_8pct']}/{rate['window_calls']} (mean |error| {rate['window_mean_abs_error']:.1%})")
    print(f"rate findings on calls whose true rate is inside the band: {rate['false_rate_findings'] or 'none'}")
    if verbose:
        for s in scores:
            false, missed = s.audio_rules - s.labelled, s.labelled - s.audio_rules
            if not (false or missed or s.review_rules):
                continue
            print(f"\n{s.call_id}: false {sorted(false)}, missed {sorted(missed)}, needs review {sorted(s.review_rules)}")
            for f in s.audio_findings:
                if f["rule"] in false or f["rule"] in s.review_rules:
                    tag = "?" if f.get("status") == NEEDS_REVIEW else "+"
                    print(f"   {tag} {f['rule']} [{f.get('item') or ''}] {f.get('start', 0):.1f}s {f['speaker']}: "
                          f"{f['evidence'][:60]} — {f['message'][:100]}")
            for rule in sorted(missed):
                on_text = [f for f in s.text_findings if f["rule"] == rule]
                for f in on_text:
                    print(f"   - {rule} [{f.get('item') or ''}] on the text at {f.get('start', 0):.1f}s: "
                          f"{f['evidence'][:60]} — {f['message'][:100]}")
                if not on_text:
                    print(f"   - {rule} (missed on the text as well)")


def without_nan(x: object) -> object:
    """JSON has no NaN: an undefined ratio (no prediction, no label) becomes null."""
    if isinstance(x, float) and x != x:
        return None
    if isinstance(x, dict):
        return {k: without_nan(v) for k, v in x.items()}
    if isinstance(x, list):
        return [without_nan(v) for v in x]
    return x


def run_pipeline(calls: list[CallSpec], out: Path) -> int:
    missing = [c.call_id for c in calls if not c.audio_path.exists()]
    if missing:
        sys.exit(f"no audio for {len(missing)} calls ({', '.join(missing[:3])}…): "
                 "make it with benchmarks/audio_bench/make_corpus.py (README.md there)")
    cmd = [sys.executable, "-m", "callqa", "run", *[str(c.audio_path) for c in calls], "--out", str(out), "--no-review"]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    return subprocess.call(cmd, cwd=ROOT, env=env)  # this checkout's callqa, whatever is installed


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", type=Path, required=True, help="a `callqa run` output folder")
    ap.add_argument("--run", action="store_true", help="run `callqa run` on the calls' audio into --results first")
    ap.add_argument("--calls", nargs="*", help="call ids, slices like 1:8, or 'committed' (default: all)")
    ap.add_argument("--json", action="store_true", help="print the totals as one JSON object")
    ap.add_argument("--verbose", action="store_true", help="list every false and missed finding")
    args = ap.parse_args(argv)
    calls = select(load_calls(), args.calls)
    if args.run:
        run_pipeline(calls, args.results)
    scores, missing = score_calls(calls, args.results)
    if missing:
        print(f"not in {args.results}: {', '.join(missing)}", file=sys.stderr)
    if not scores:
        return 1
    t = totals(scores)
    if args.json:
        print(json.dumps(without_nan(t), ensure_ascii=False))
    else:
        print_report(scores, t, args.verbose)
    return 0


if __name__ == "__main__":
    sys.exit(main())
