"""Loading the QA team's data (lexicons/*.yaml) into compiled, ready-to-match form.

Everything a QA team tunes lives in YAML: rule severities and weights, thresholds, phrase lists,
questionnaires. This module reads them once, checks them, and compiles the phrase lists into
PhraseIndex objects. It is the only place in qa_checks that touches the file system.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from callqa.model import Dimension, Kind, Severity

from .phonetic import Template, compile_template
from .textmatch import PhraseIndex, PinyinMode, Scanner, word_boundaries
from .textnorm import canonical, normalize

DEFAULT_DIR = Path(__file__).resolve().parent.parent / "lexicons"


class LexiconError(ValueError):
    """A lexicon file that cannot be used; the message names the file and the entry."""


@dataclass(frozen=True, slots=True)
class RuleSpec:
    id: str
    kind: Kind
    severity: Severity
    dimension: Dimension
    title: str
    weight: float
    enabled: bool = True


@dataclass(slots=True)
class ForbiddenCategory:
    rule: str
    index: PhraseIndex
    exceptions: PhraseIndex
    negatable: bool
    skip_in_questions: bool
    script_exempt: bool


@dataclass(frozen=True, slots=True)
class ItemSpec:
    id: str
    title: str
    script: str
    alternatives: tuple[tuple[int, ...], ...]  # group ids that must all hit, per alternative
    negative: PhraseIndex
    negative_alert: bool
    must_ask: bool = False
    say: tuple[Template, ...] = ()  # the sentences agents read for it, found by sound when not in words
    groups: dict[int, tuple[str, ...]] | None = None  # the phrases of each word group (for a look by sound)


@dataclass(frozen=True, slots=True)
class Questionnaire:
    name: str
    title: str
    items: tuple[str, ...]
    detect: tuple[str, ...]


@dataclass(slots=True)
class Lexicon:
    directory: Path
    rules: dict[str, RuleSpec]
    settings: dict[str, Any]
    forbidden: dict[str, ForbiddenCategory]
    filler: PhraseIndex
    cues: dict[str, PhraseIndex]
    items: dict[str, ItemSpec]
    item_index: PhraseIndex  # tags: (item_id, group_id) ask groups; (item_id, -1) context; (item_id, -2) not_if
    questionnaires: dict[str, Questionnaire]
    default_questionnaire: str
    detect_index: PhraseIndex  # tags: (questionnaire name, weight)
    fingerprint: str = ""  # of the files' content: a result records the lexicons it was scored with
    scripts: dict[str, tuple[Template, ...]] | None = None  # scripts.yaml: opening, consent, closing…

    def script(self, name: str) -> tuple[Template, ...]:
        try:
            return (self.scripts or {})[name]
        except KeyError:
            raise LexiconError(f"{self.directory / 'scripts.yaml'}: missing script list '{name}'") from None

    def setting(self, path: str) -> Any:
        node: Any = self.settings
        for part in path.split("."):
            if not isinstance(node, dict) or part not in node:
                raise LexiconError(f"settings.yaml: missing setting '{path}'")
            node = node[part]
        return node

    def clear_caches(self) -> None:
        """Forget every memoised text (for benchmarks that must not reuse earlier work)."""
        self.filler.clear_memo()  # all indexes share one scanner
        normalize.cache_clear()
        canonical.cache_clear()
        word_boundaries.cache_clear()

    def cue(self, name: str) -> PhraseIndex:
        try:
            return self.cues[name]
        except KeyError:
            raise LexiconError(f"cues.yaml: missing cue list '{name}'") from None

    def questionnaire_items(self, names: list[str]) -> list[str]:
        """Items of one questionnaire or of merged ones (000 合并问卷: 传统→分红→万能), in order."""
        order: list[str] = []
        for name in names:
            items = self.questionnaires[name].items
            for i, item in enumerate(items):
                if item in order:
                    continue
                prev = next((p for p in reversed(items[:i]) if p in order), None)
                at = order.index(prev) + 1 if prev else 0
                # keep items already inserted after the same predecessor ahead of this one
                while at < len(order) and order[at] not in items:
                    at += 1
                order.insert(at, item)
        return order


def _read(path: Path) -> Any:
    try:
        with path.open(encoding="utf-8") as fh:
            return yaml.safe_load(fh)
    except FileNotFoundError:
        raise LexiconError(f"{path}: file not found") from None
    except yaml.YAMLError as exc:
        raise LexiconError(f"{path}: not valid YAML: {exc}") from None


def _strings(value: Any, where: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, (str, int)) for v in value):
        raise LexiconError(f"{where}: expected a list of phrases")
    return [str(v) for v in value]


def _flatten_cues(node: Any, prefix: str, out: dict[str, list[str]]) -> None:
    if isinstance(node, dict):
        for k, v in node.items():
            _flatten_cues(v, f"{prefix}{k}.", out)
    elif isinstance(node, list):
        out[prefix.rstrip(".")] = _strings(node, f"cues.yaml: {prefix.rstrip('.')}")


def _expand(phrases: list[str], cue_lists: dict[str, list[str]], where: str) -> list[str]:
    out: list[str] = []
    for p in phrases:
        if p.startswith("@"):
            if p[1:] not in cue_lists:
                raise LexiconError(f"{where}: unknown cue list '{p}'")
            out.extend(cue_lists[p[1:]])
        else:
            out.append(p)
    return out


def _templates(sentences: Any, where: str, tag: object = None) -> tuple[Template, ...]:
    out = []
    for sentence in _strings(sentences, where):
        try:
            out.append(compile_template(sentence, tag))
        except ValueError as exc:
            raise LexiconError(f"{where}: {exc}") from None
    return tuple(out)


def _rules(raw: Any, path: Path, weights: dict[str, float]) -> dict[str, RuleSpec]:
    if not isinstance(raw, dict):
        raise LexiconError(f"{path}: expected a mapping of rule ids")
    rules = {}
    for rid, spec in raw.items():
        where = f"{path}: {rid}"
        if not isinstance(spec, dict):
            raise LexiconError(f"{where}: expected a mapping")
        kind = _member(Kind, spec.get("kind"), f"{where}: kind")
        sev = _member(Severity, spec.get("severity"), f"{where}: severity")
        dim = _member(Dimension, spec.get("dimension"), f"{where}: dimension")
        weight = spec.get("weight", weights.get(sev, 0.0))
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or weight < 0:
            raise LexiconError(f"{where}: weight must be a number of points ≥ 0, got {weight!r}")
        enabled = spec.get("enabled", True)
        if not isinstance(enabled, bool):
            raise LexiconError(f"{where}: enabled must be true or false, got {enabled!r}")
        if kind is Kind.ALERT:
            weight = 0.0  # alerts are business events, not the agent's fault
        rules[rid] = RuleSpec(rid, kind, sev, dim, str(spec.get("title", rid)), float(weight), enabled)
    return rules


def _member(enum: type[Kind] | type[Severity] | type[Dimension], value: Any, where: str) -> Any:
    try:
        return enum(value)
    except ValueError:
        raise LexiconError(f"{where} must be one of {', '.join(m.value for m in enum)}, got {value!r}") from None


def fingerprint(directory: Path) -> str:
    """A hash of every lexicon file's path and content: equal fingerprints score calls the same."""
    h = hashlib.sha256()
    for path in sorted(directory.rglob("*.yaml")):
        h.update(path.relative_to(directory).as_posix().encode() + b"\0")
        h.update(path.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def lexicon_dir(directory: str | os.PathLike[str] | None = None) -> Path:
    return Path(directory or os.environ.get("CALLQA_LEXICONS") or DEFAULT_DIR).resolve()


def read_lexicon(directory: str | os.PathLike[str] | None = None) -> Lexicon:
    """Load and compile a lexicon directory (cached per folder and content), unchecked against the rules:
    `qa_checks.load_lexicon` is the checked way in."""
    d = lexicon_dir(directory)
    if not d.is_dir():
        raise LexiconError(f"{d}: lexicon directory not found")
    return _load(d, fingerprint(d))


@lru_cache(maxsize=8)
def _load(d: Path, content: str) -> Lexicon:
    settings = _read(d / "settings.yaml") or {}
    weights = {k: float(v) for k, v in settings.get("scoring", {}).get("weights", {}).items()}
    rules = _rules(_read(d / "rules.yaml"), d / "rules.yaml", weights)
    m = settings.get("matching", {})
    try:
        mode = PinyinMode(m.get("pinyin", "toneless"))
    except ValueError:
        raise LexiconError(f"{d / 'settings.yaml'}: matching.pinyin must be off, toneless or fuzzy") from None
    min_chars = int(m.get("pinyin_min_chars", 2))
    max_freq = int(m.get("homophone_max_word_freq", 20))

    scanner = Scanner(mode, max_freq)  # one scan per utterance serves every phrase list

    def index(phrases: list[str], tag: object = None, pinyin: bool = True) -> PhraseIndex:
        idx = PhraseIndex(mode=mode if pinyin else PinyinMode.OFF, pinyin_min_chars=min_chars,
                          homophone_max_word_freq=max_freq, scanner=scanner)
        try:
            idx.extend(phrases, tag)
        except ValueError as exc:
            raise LexiconError(f"{d}: {tag}: {exc}") from None
        return idx

    cue_lists: dict[str, list[str]] = {}
    _flatten_cues(_read(d / "cues.yaml") or {}, "", cue_lists)
    # answers are short and common words: homophone matching would turn 是 into 事
    exact_only = {"honorific_bad", "honorific_ignore", "negation", "negation_ignore"}
    cues = {
        name: index(phrases, name, pinyin=name not in exact_only and not name.startswith("answers."))
        for name, phrases in cue_lists.items()
    }

    forbidden: dict[str, ForbiddenCategory] = {}
    filler = PhraseIndex(mode=PinyinMode.OFF, scanner=scanner)
    raw_forbidden = _read(d / "forbidden.yaml") or {}
    for rid, spec in raw_forbidden.items():
        where = f"{d / 'forbidden.yaml'}: {rid}"
        if rid not in rules:
            raise LexiconError(f"{where}: not a rule id of rules.yaml")
        phrases = _strings(spec.get("phrases"), where)
        if rid == "forbidden.filler":
            filler.extend(phrases, rid)
            continue
        forbidden[rid] = ForbiddenCategory(
            rule=rid,
            index=index(phrases, rid),
            exceptions=index(_strings(spec.get("except"), where), rid, pinyin=False),
            negatable=bool(spec.get("negatable", False)),
            skip_in_questions=bool(spec.get("skip_in_questions", False)),
            script_exempt=bool(spec.get("script_exempt", False)),
        )

    qdir = d / "questionnaires"
    raw_items = _read(qdir / "items.yaml") or {}
    item_index = PhraseIndex(mode=mode, pinyin_min_chars=max(min_chars, 2), homophone_max_word_freq=max_freq,
                             scanner=scanner)
    items: dict[str, ItemSpec] = {}
    group_id = 0
    for iid, spec in raw_items.items():
        where = f"{qdir / 'items.yaml'}: {iid}"
        if not isinstance(spec, dict) or not isinstance(spec.get("ask"), list) or not spec["ask"]:
            raise LexiconError(f"{where}: needs an 'ask' list of alternatives")
        alts = []
        phrases_of: dict[int, tuple[str, ...]] = {}
        for alt in spec["ask"]:
            if not isinstance(alt, list) or not alt:
                raise LexiconError(f"{where}: each 'ask' alternative must be a list of word groups")
            gids = []
            for group in alt:
                phrases = _expand(_strings(group, where), cue_lists, where)
                for phrase in phrases:
                    item_index.add(phrase, (iid, group_id))
                phrases_of[group_id] = tuple(phrases)
                gids.append(group_id)
                group_id += 1
            alts.append(tuple(gids))
        for phrase in _expand(_strings(spec.get("context"), where), cue_lists, where):
            item_index.add(phrase, (iid, -1))
        for phrase in _expand(_strings(spec.get("not_if"), where), cue_lists, where):
            item_index.add(phrase, (iid, -2))
        items[iid] = ItemSpec(
            id=iid,
            title=str(spec.get("title", iid)),
            script=str(spec.get("script", "")),
            alternatives=tuple(alts),
            negative=index(_strings(spec.get("negative"), where), iid),
            negative_alert=bool(spec.get("negative_alert", True)),
            must_ask=bool(spec.get("must_ask", False)),
            say=_templates(spec.get("say"), f"{where}: say", iid),
            groups=phrases_of,
        )

    questionnaires: dict[str, Questionnaire] = {}
    raw_q = {p.stem: _read(p) for p in sorted(qdir.glob("*.yaml")) if p.name != "items.yaml"}

    def resolve(name: str, seen: tuple[str, ...] = ()) -> list[str]:
        if name in seen:
            raise LexiconError(f"{qdir}: questionnaire '{name}' extends itself")
        spec = raw_q.get(name)
        if not isinstance(spec, dict):
            raise LexiconError(f"{qdir}: unknown questionnaire '{name}'")
        if "extends" in spec:
            base = resolve(str(spec["extends"]), (*seen, name))
            for after, new in (spec.get("insert_after") or {}).items():
                if after not in base:
                    raise LexiconError(f"{qdir / (name + '.yaml')}: insert_after '{after}' is not an item of the base")
                at = base.index(after) + 1
                base[at:at] = _strings(new, f"{name}.insert_after")
            for removed in _strings(spec.get("remove"), f"{name}.remove"):
                base = [i for i in base if i != removed]
            return base
        return _strings(spec.get("items"), f"{qdir / (name + '.yaml')}: items")

    detect_index = PhraseIndex(mode=PinyinMode.OFF, scanner=scanner)
    for stem, spec in raw_q.items():
        name = str(spec.get("name", stem)) if isinstance(spec, dict) else stem
        item_ids = resolve(stem)
        for iid in item_ids:
            if iid not in items:
                raise LexiconError(f"{qdir / (stem + '.yaml')}: item '{iid}' is not defined in items.yaml")
        raw_detect = spec.get("detect") or {}
        if not isinstance(raw_detect, dict):
            raw_detect = {"weak": raw_detect}
        strong = _strings(raw_detect.get("strong"), f"{stem}.detect.strong")
        weak = _strings(raw_detect.get("weak"), f"{stem}.detect.weak")
        detect_index.extend(strong, (name, 3))
        detect_index.extend(weak, (name, 1))
        detect = tuple(strong + weak)
        questionnaires[name] = Questionnaire(name, str(spec.get("title", name)), tuple(item_ids), detect)

    default_q = str(settings.get("questionnaire", {}).get("default", "traditional"))
    if default_q not in questionnaires:
        raise LexiconError(f"{d / 'settings.yaml'}: default questionnaire '{default_q}' does not exist")
    raw_scripts = _read(d / "scripts.yaml") if (d / "scripts.yaml").exists() else {}
    if not isinstance(raw_scripts, dict):
        raise LexiconError(f"{d / 'scripts.yaml'}: expected a mapping of script names to sentence lists")
    scripts = {str(name): _templates(lines, f"{d / 'scripts.yaml'}: {name}", name) for name, lines in raw_scripts.items()}
    return Lexicon(d, rules, settings, forbidden, filler, cues, items, item_index, questionnaires, default_q, detect_index,
                   content, scripts)
