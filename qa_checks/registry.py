"""The rule registry: each rule id tied to the check that produces it and the lexicon data it reads.

A check is a function from an analysed call to findings. It is registered with the rule ids it may
produce, the settings it reads (with their types) and the cue lists it reads, and its docstring is the
rule's documentation. The engine runs the checks whose rules are enabled; a disabled rule's check does
not run. Measures (speaking rate, thanks counted, …) are registered the same way and always run, since
reports read them whatever rules are on.

Before any call is scored the lexicons are validated against the registry both ways: every registered
rule has an entry in `rules.yaml` and every entry there is a registered rule; every declared setting and
cue list exists, settings with the right type.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from callqa.model import Finding

from .lexicon import Lexicon, LexiconError

if TYPE_CHECKING:
    from .call import AnalyzedCall


@dataclass(frozen=True)
class Positive:
    """A number above zero: a length of time a window must fill, a ratio something is divided by."""


# What a setting must hold: a number (int or float), a number above zero, a whole number, a flag or a text.
# Numbers are finite and never negative (thresholds, counts, seconds, decibels above a baseline).
SettingType = type | tuple[type, ...] | Positive
NUMBER: tuple[type, ...] = (int, float)
POSITIVE = Positive()

CheckFn = Callable[["AnalyzedCall"], Iterable[Finding]]
MeasureFn = Callable[["AnalyzedCall"], Mapping[str, Any]]


@dataclass(frozen=True)
class Needs:
    """The lexicon data a check or a shared analysis reads."""

    settings: Mapping[str, SettingType] = field(default_factory=dict)
    cues: tuple[str, ...] = ()

    def __add__(self, other: Needs) -> Needs:
        return Needs({**self.settings, **other.settings}, tuple(dict.fromkeys(self.cues + other.cues)))


@dataclass(frozen=True)
class Check:
    name: str
    rules: tuple[str, ...]
    run: CheckFn
    needs: Needs
    doc: str


@dataclass(frozen=True)
class Measure:
    name: str
    run: MeasureFn
    needs: Needs


CHECKS: dict[str, Check] = {}
MEASURES: dict[str, Measure] = {}
# what every check reads through the shared helpers of AnalyzedCall (negation, reported speech, matching)
CORE = Needs(
    settings={"matching.negation_window": int, "matching.pinyin_min_chars": int,
              "matching.homophone_max_word_freq": int, "scoring.start": NUMBER, "scoring.per_rule_cap": NUMBER,
              "confidence.heard_below": NUMBER, "confidence.absent_below": NUMBER,
              "confidence.structure_below": NUMBER, "confidence.measured_below": NUMBER},
    cues=("negation", "negation_ignore", "reported_speech"),
)


def _doc(fn: Callable[..., Any]) -> str:
    return " ".join((fn.__doc__ or "").split())


def rule_check(*rules: str, needs: Needs = Needs(), name: str | None = None) -> Callable[[CheckFn], CheckFn]:
    """Register `fn` as the check producing `rules`."""

    def register(fn: CheckFn) -> CheckFn:
        add_check(Check(name or fn.__name__, rules, fn, needs, _doc(fn)))
        return fn

    return register


def add_check(check: Check) -> None:
    for rule in check.rules:
        owner = rule_owner(rule)
        if owner is not None and owner.name != check.name:
            raise ValueError(f"rule {rule} is produced by both {owner.name} and {check.name}")
    CHECKS[check.name] = check


def measure(needs: Needs = Needs()) -> Callable[[MeasureFn], MeasureFn]:
    """Register `fn` as a measure: metrics of the call that reports read."""

    def register(fn: MeasureFn) -> MeasureFn:
        MEASURES[fn.__name__] = Measure(fn.__name__, fn, needs)
        return fn

    return register


def rule_owner(rule: str) -> Check | None:
    return next((c for c in CHECKS.values() if rule in c.rules), None)


def registered_rules() -> list[str]:
    return [r for c in CHECKS.values() for r in c.rules]


def enabled_checks(lex: Lexicon) -> list[Check]:
    """The checks with at least one enabled rule, in registration order."""
    return [c for c in CHECKS.values() if any(lex.rules[r].enabled for r in c.rules)]


def _type_name(expected: SettingType) -> str:
    if isinstance(expected, Positive):
        return "a number above 0"
    if expected == NUMBER or expected is float:
        return "a number"
    return {int: "a whole number", bool: "true or false", str: "a text", list: "a list", dict: "a mapping"}.get(
        expected if isinstance(expected, type) else float, str(expected))


def _has_type(value: Any, expected: SettingType) -> bool:
    if isinstance(expected, Positive):
        return _has_type(value, NUMBER) and _in_range(value) and value > 0
    if expected is float:
        expected = NUMBER
    if isinstance(value, bool) and expected is not bool:
        return False
    return isinstance(value, expected)


def _in_range(value: Any) -> bool:
    """Numbers are finite and never negative: .inf, .nan or a negative threshold breaks the checks' arithmetic."""
    return not isinstance(value, (int, float)) or isinstance(value, bool) or (math.isfinite(value) and value >= 0)


def validate(lex: Lexicon) -> None:
    """Check the lexicons against the registry both ways; raise LexiconError naming the file and entry."""
    rules_file = lex.directory / "rules.yaml"
    registered = set(registered_rules())
    for rule in registered:
        if rule not in lex.rules:
            raise LexiconError(f"{rules_file}: {rule}: missing entry for a rule the engine checks "
                               "(add it with kind, severity, dimension, title)")
    for rule in lex.rules:
        if rule not in registered:
            raise LexiconError(f"{rules_file}: {rule}: not a rule id the engine knows "
                               f"(known: {', '.join(sorted(registered))})")
    every = [CORE] + [c.needs for c in CHECKS.values()] + [m.needs for m in MEASURES.values()]
    for needs in every:
        for path, expected in needs.settings.items():
            value = lex.setting(path)
            shown = repr(value)
            shown = shown[:40] + "…" if len(shown) > 40 else shown
            if not _has_type(value, expected):
                raise LexiconError(f"{lex.directory / 'settings.yaml'}: {path}: expected {_type_name(expected)}, "
                                   f"got {shown}")
            if not _in_range(value):
                raise LexiconError(f"{lex.directory / 'settings.yaml'}: {path}: expected a finite number ≥ 0, "
                                   f"got {shown}")
        for cue in needs.cues:
            lex.cue(cue)


__all__ = ["CHECKS", "CORE", "MEASURES", "NUMBER", "POSITIVE", "Check", "Measure", "Needs", "add_check", "enabled_checks",
           "measure", "registered_rules", "rule_check", "rule_owner", "validate"]
