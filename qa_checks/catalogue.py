"""The rule catalogue: every registered rule with its metadata from rules.yaml and its documentation.

`callqa rules` prints it, and the README's table of rules is this catalogue rendered as Markdown (a test
keeps the two the same).
"""

from __future__ import annotations

from dataclasses import dataclass

from .lexicon import Lexicon
from .registry import CHECKS, registered_rules, rule_owner


@dataclass(frozen=True)
class RuleRow:
    id: str
    kind: str
    severity: str
    dimension: str
    weight: float
    enabled: bool
    title: str
    check: str
    module: str
    doc: str


def catalogue(lex: Lexicon) -> list[RuleRow]:
    """One row per rule, in the order of rules.yaml."""
    rows = []
    registered = set(registered_rules())
    for rid, spec in lex.rules.items():
        if rid not in registered:
            continue
        check = rule_owner(rid)
        assert check is not None
        module = getattr(check.run, "__module__", None) or getattr(getattr(check.run, "func", None), "__module__", "")
        rows.append(RuleRow(rid, spec.kind.value, spec.severity.value, spec.dimension.value, spec.weight,
                            spec.enabled, spec.title, check.name, module.replace(".", "/") + ".py", check.doc))
    return rows


def markdown_table(lex: Lexicon) -> str:
    """The catalogue as the README shows it."""
    lines = ["| rule | kind | severity | dimension | weight | title | what is checked | module |",
             "|---|---|---|---|---|---|---|---|"]
    for r in catalogue(lex):
        doc = r.doc.replace("|", "\\|")
        off = "" if r.enabled else " (off)"
        lines.append(f"| `{r.id}`{off} | {r.kind} | {r.severity} | {r.dimension} | {r.weight:g} | {r.title} | "
                     f"{doc} | `{r.module}` |")
    return "\n".join(lines)


__all__ = ["CHECKS", "RuleRow", "catalogue", "markdown_table"]
