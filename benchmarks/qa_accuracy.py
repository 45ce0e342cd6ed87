"""Precision and recall per rule, and overall, on a labelled set of transcripts.

A label file maps each transcript file to the rule ids a QA expert found in that call (and, for
question.* rules, the questionnaire items). A rule counts once per call: found and labelled is a true
positive, found but not labelled a false positive, labelled but not found a false negative.

    python benchmarks/qa_accuracy.py [--set tests/labelled] [--verbose]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from callqa.transcripts import load_transcript  # noqa: E402
from qa_checks import check_call, load_lexicon  # noqa: E402


def evaluate(set_dir: Path, verbose: bool = False) -> dict[str, object]:
    labels = yaml.safe_load((set_dir / "labels.yaml").read_text(encoding="utf-8"))
    lex = load_lexicon()
    tp: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    item_hits = item_total = 0
    mistakes = []
    for name, label in sorted(labels.items()):
        result = check_call(load_transcript(set_dir / "calls" / name), lex)
        found = {f.rule for f in result.findings if f.asserted}  # a finding to verify is not asserted
        expected = set(label.get("rules") or [])
        for r in found & expected:
            tp[r] += 1
        for r in found - expected:
            fp[r] += 1
        for r in expected - found:
            fn[r] += 1
        for rule, items in (label.get("items") or {}).items():
            got = {f.item for f in result.findings if f.rule == rule}
            for it in items:
                item_total += 1
                item_hits += it in got
            if verbose and set(items) != got:
                print(f"{name}: {rule} items labelled {sorted(items)}, found {sorted(i for i in got if i)}")
        if found != expected:
            mistakes.append((name, sorted(found - expected), sorted(expected - found), result))
    rules = sorted(set(tp) | set(fp) | set(fn))
    print(f"{'rule':28} {'TP':>4} {'FP':>4} {'FN':>4} {'precision':>10} {'recall':>8}")
    for r in rules:
        p = tp[r] / (tp[r] + fp[r]) if tp[r] + fp[r] else float("nan")
        rc = tp[r] / (tp[r] + fn[r]) if tp[r] + fn[r] else float("nan")
        print(f"{r:28} {tp[r]:4d} {fp[r]:4d} {fn[r]:4d} {p:10.2f} {rc:8.2f}")
    T, F, N = sum(tp.values()), sum(fp.values()), sum(fn.values())
    precision = T / (T + F) if T + F else 1.0
    recall = T / (T + N) if T + N else 1.0
    print(f"\n{len(labels)} calls; micro precision {precision:.3f}, recall {recall:.3f} "
          f"(TP {T}, FP {F}, FN {N}); question items named right: {item_hits}/{item_total}")
    if verbose:
        for name, extra, missing, result in mistakes:
            print(f"\n{name}: false {extra} missed {missing}")
            for f in result.findings:
                if f.rule in extra:
                    print(f"   + {f.rule} [{f.item or ''}] {f.evidence[:50]} — {f.message}")
    return {"precision": precision, "recall": recall, "tp": T, "fp": F, "fn": N}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--set", type=Path, default=ROOT / "tests" / "labelled")
    ap.add_argument("--verbose", action="store_true")
    ap.add_argument("--json", action="store_true", help="also print the totals as JSON")
    args = ap.parse_args()
    totals = evaluate(args.set, args.verbose)
    if args.json:
        print(json.dumps(totals))


if __name__ == "__main__":
    main()
