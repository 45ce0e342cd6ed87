"""The engine against labelled calls written like real ones (benchmarks/qa_accuracy.py prints detail)."""

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from qa_accuracy import evaluate  # noqa: E402

SETS = [p for p in sorted((ROOT / "tests").glob("labelled*")) if (p / "labels.yaml").exists()]


@pytest.mark.parametrize("labelled", SETS, ids=[p.name for p in SETS])
def test_precision_and_recall_over_rule_ids(labelled):
    totals = evaluate(labelled)
    assert totals["tp"] >= 30  # the set really exercises the rules
    assert totals["precision"] >= 0.90
    assert totals["recall"] >= 0.85
