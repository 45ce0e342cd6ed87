"""Loading the QA team's data (lexicons/*.yaml) into compiled, ready-to-match form.

Everything a QA team tunes lives in YAML: rule severities and weights, thresholds, phrase lists,
questionnaires. This module reads them once, checks them, and compiles the phrase lists into
PhraseIndex objects. It is the only place in qa_checks that touches the file system.
"""

from __future__ import annotations

import hashlib
import math
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
        parts = path.split(".")
        for k, part in enumerate(parts):
            if not isinstance(node, dict):
                where = ".".join(parts[:k])
                raise LexiconError(f"{self.directory / 'settings.yaml'}: {where}: expected a mapping of settings "
                                   f"(holding {path}), got {type(node).__name__}")
            if part not in node:
                raise LexiconError(f"{self.directory / 'settings.yaml'}: missing setting '{path}'")
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


# A lexicon is edited by hand: every shape it can take is checked, and every mistake is a LexiconError naming
# the file and the entry (never a traceback). Structures are bounded too: YAML aliases can make a small file
# stand for an exponentially large tree (or a loop), which walking it would never finish.
MAX_DEPTH = 12
MAX_NODES = 200_000


def _bounded(data: Any, path: Path) -> Any:
    """`data`, unless it nests deeper than MAX_DEPTH or holds more than MAX_NODES entries (counted along
    every path, as the loader walks it)."""
    count = 0
    stack = [(data, 0)]
    while stack:
        node, depth = stack.pop()
        count += 1
        if depth > MAX_DEPTH or count > MAX_NODES:
            raise LexiconError(f"{path}: nested too deeply or too large (over {MAX_DEPTH} levels or "
                               f"{MAX_NODES:,} entries; YAML aliases that refer to each other?)")
        if isinstance(node, dict):
            stack.extend((v, depth + 1) for v in node.values())
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node)
    return data


def _read(path: Path) -> Any:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise LexiconError(f"{path}: file not found") from None
    except OSError as exc:
        raise LexiconError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise LexiconError(f"{path}: not UTF-8 text (line {line}, byte {exc.start}); save it as UTF-8") from None
    try:
        return _bounded(yaml.safe_load(text), path)
    except yaml.YAMLError as exc:
        raise LexiconError(f"{path}: not valid YAML: {exc}") from None
    except RecursionError:
        raise LexiconError(f"{path}: nested too deeply to read") from None


def _mapping(value: Any, where: str, what: str = "a mapping") -> dict[Any, Any]:
    """A YAML mapping (an empty entry counts as an empty one)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise LexiconError(f"{where}: expected {what}, got {_kind(value)}")
    return value


def _kind(value: Any) -> str:
    """How a wrong value looks, for an error message."""
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing"
    shown = repr(value)
    return f"{type(value).__name__} {shown[:40] + '…' if len(shown) > 40 else shown}"


def _text(value: Any, where: str, default: str) -> str:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise LexiconError(f"{where}: expected a text, got {_kind(value)}")
    return str(value)


def _flag(spec: dict[Any, Any], key: str, where: str, default: bool) -> bool:
    value = spec.get(key, default)
    if not isinstance(value, bool):
        raise LexiconError(f"{where}: {key} must be true or false, got {_kind(value)}")
    return value


def _strings(value: Any, where: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        raise LexiconError(f"{where}: expected a list of phrases, got a single text {value[:40]!r} "
                           "(write it as [phrase] or as a '- phrase' line)")
    if not isinstance(value, list):
        raise LexiconError(f"{where}: expected a list of phrases, got {_kind(value)}")
    for v in value:
        if isinstance(v, bool) or not isinstance(v, (str, int)):
            raise LexiconError(f"{where}: expected a list of phrases, but one entry is {_kind(v)}")
    return [str(v) for v in value]


def _flatten_cues(node: Any, prefix: str, out: dict[str, list[str]], path: Path) -> None:
    name = prefix.rstrip(".")
    if isinstance(node, dict):
        for k, v in node.items():
            _flatten_cues(v, f"{prefix}{k}.", out, path)
    elif isinstance(node, list):
        out[name] = _strings(node, f"{path}: {name}")
    elif node is not None or name:
        raise LexiconError(f"{path}: {name or 'the file'}: expected a list of phrases or a mapping of cue lists, "
                           f"got {_kind(node)}")


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


def _finite_number(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)


def _rules(raw: Any, path: Path, weights: dict[str, float]) -> dict[str, RuleSpec]:
    rules = {}
    for rid, spec in _mapping(raw, str(path), "a mapping of rule ids").items():
        where = f"{path}: {rid}"
        if not isinstance(spec, dict):
            raise LexiconError(f"{where}: expected a mapping (kind, severity, dimension, title), got {_kind(spec)}")
        kind = _member(Kind, spec.get("kind"), f"{where}: kind")
        sev = _member(Severity, spec.get("severity"), f"{where}: severity")
        dim = _member(Dimension, spec.get("dimension"), f"{where}: dimension")
        weight = spec.get("weight", weights.get(sev, 0.0))
        if not _finite_number(weight) or weight < 0:
            raise LexiconError(f"{where}: weight must be a number of points ≥ 0, got {_kind(weight)}")
        enabled = _flag(spec, "enabled", where, True)
        if kind is Kind.ALERT:
            weight = 0.0  # alerts are business events, not the agent's fault
        rules[rid] = RuleSpec(rid, kind, sev, dim, _text(spec.get("title"), f"{where}: title", str(rid)), float(weight),
                              enabled)
    return rules


def _member(enum: type[Kind] | type[Severity] | type[Dimension], value: Any, where: str) -> Any:
    try:
        return enum(value)
    except (ValueError, TypeError):
        raise LexiconError(f"{where} must be one of {', '.join(m.value for m in enum)}, got {_kind(value)}") from None


def fingerprint(directory: Path) -> str:
    """A hash of every lexicon file's path and content: equal fingerprints score calls the same."""
    h = hashlib.sha256()
    for path in sorted(directory.rglob("*.yaml")):
        if path.is_dir():
            raise LexiconError(f"{path}: a folder where a lexicon file belongs")
        h.update(path.relative_to(directory).as_posix().encode() + b"\0")
        try:
            h.update(path.read_bytes() + b"\0")
        except OSError as exc:
            raise LexiconError(f"{path}: cannot read: {exc.strerror or exc}") from None
    return h.hexdigest()[:16]


def lexicon_dir(directory: str | os.PathLike[str] | None = None) -> Path:
    return Path(directory or os.environ.get("CALLQA_LEXICONS") or DEFAULT_DIR).resolve()


def read_lexicon(directory: str | os.PathLike[str] | None = None) -> Lexicon:
    """Load and compile a lexicon directory (cached per folder and content), unchecked against the rules:
    `qa_checks.load_lexicon` is the checked way in."""
    d = lexicon_dir(directory)
    if not d.is_dir():
        raise LexiconError(f"{d}: lexicon directory not found")
    try:
        return _load(d, fingerprint(d))
    except LexiconError:
        raise
    except Exception as exc:  # a shape no check above foresaw: still a lexicon error, never a traceback
        raise LexiconError(f"{d}: cannot be loaded: {type(exc).__name__}: {exc}") from exc


def _settings(d: Path) -> tuple[dict[str, Any], dict[str, float]]:
    """settings.yaml, with the entries the loader itself reads checked (the rules' own settings are
    checked against the registry's declared types)."""
    path = d / "settings.yaml"
    settings = _mapping(_read(path), str(path), "a mapping of setting sections")
    for key in ("matching", "scoring", "questionnaire"):  # the sections the loader reads itself
        _mapping(settings.get(key), f"{path}: {key}", "a mapping of settings")
    scoring = _mapping(settings.get("scoring"), f"{path}: scoring")
    weights = {}
    for sev, w in _mapping(scoring.get("weights"), f"{path}: scoring.weights").items():
        if not _finite_number(w) or w < 0:
            raise LexiconError(f"{path}: scoring.weights.{sev}: expected a number of points ≥ 0, got {_kind(w)}")
        weights[sev] = float(w)
    return settings, weights


def _whole(spec: dict[Any, Any], key: str, default: int, where: str) -> int:
    value = spec.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise LexiconError(f"{where}: {key} must be a whole number ≥ 0, got {_kind(value)}")
    return value


@lru_cache(maxsize=8)
def _load(d: Path, content: str) -> Lexicon:
    settings, weights = _settings(d)
    rules = _rules(_read(d / "rules.yaml"), d / "rules.yaml", weights)
    m = settings.get("matching") or {}
    try:
        mode = PinyinMode(m.get("pinyin", "toneless"))
    except (ValueError, TypeError):
        raise LexiconError(f"{d / 'settings.yaml'}: matching.pinyin must be off, toneless or fuzzy") from None
    min_chars = _whole(m, "pinyin_min_chars", 2, f"{d / 'settings.yaml'}: matching")
    max_freq = _whole(m, "homophone_max_word_freq", 20, f"{d / 'settings.yaml'}: matching")

    scanner = Scanner(mode, max_freq)  # one scan per utterance serves every phrase list

    def index(phrases: list[str], tag: object, where: str, pinyin: bool = True) -> PhraseIndex:
        idx = PhraseIndex(mode=mode if pinyin else PinyinMode.OFF, pinyin_min_chars=min_chars,
                          homophone_max_word_freq=max_freq, scanner=scanner)
        add(idx, phrases, tag, where)
        return idx

    def add(idx: PhraseIndex, phrases: list[str], tag: object, where: str) -> None:
        try:
            idx.extend(phrases, tag)
        except ValueError as exc:  # a regular expression that does not compile
            raise LexiconError(f"{where}: {exc}") from None

    cues_path = d / "cues.yaml"
    cue_lists: dict[str, list[str]] = {}
    _flatten_cues(_mapping(_read(cues_path), str(cues_path), "a mapping of cue lists"), "", cue_lists, cues_path)
    # answers are short and common words: homophone matching would turn 是 into 事
    exact_only = {"honorific_bad", "honorific_ignore", "negation", "negation_ignore"}
    cues = {
        name: index(phrases, name, f"{cues_path}: {name}",
                    pinyin=name not in exact_only and not name.startswith("answers."))
        for name, phrases in cue_lists.items()
    }

    forbidden: dict[str, ForbiddenCategory] = {}
    filler = PhraseIndex(mode=PinyinMode.OFF, scanner=scanner)
    forbidden_path = d / "forbidden.yaml"
    raw_forbidden = _mapping(_read(forbidden_path), str(forbidden_path), "a mapping of forbidden categories")
    for rid, spec in raw_forbidden.items():
        where = f"{forbidden_path}: {rid}"
        if rid not in rules:
            raise LexiconError(f"{where}: not a rule id of rules.yaml")
        if not isinstance(spec, dict):
            raise LexiconError(f"{where}: expected a mapping (phrases, except, negatable…), got {_kind(spec)}")
        phrases = _strings(spec.get("phrases"), f"{where}: phrases")
        if rid == "forbidden.filler":
            add(filler, phrases, rid, f"{where}: phrases")
            continue
        forbidden[rid] = ForbiddenCategory(
            rule=rid,
            index=index(phrases, rid, f"{where}: phrases"),
            exceptions=index(_strings(spec.get("except"), f"{where}: except"), rid, f"{where}: except", pinyin=False),
            negatable=_flag(spec, "negatable", where, False),
            skip_in_questions=_flag(spec, "skip_in_questions", where, False),
            script_exempt=_flag(spec, "script_exempt", where, False),
        )

    qdir = d / "questionnaires"
    items_path = qdir / "items.yaml"
    raw_items = _mapping(_read(items_path), str(items_path), "a mapping of questionnaire items")
    item_index = PhraseIndex(mode=mode, pinyin_min_chars=max(min_chars, 2), homophone_max_word_freq=max_freq,
                             scanner=scanner)
    items: dict[str, ItemSpec] = {}
    group_id = 0
    for iid, spec in raw_items.items():
        where = f"{items_path}: {iid}"
        if not isinstance(spec, dict) or not isinstance(spec.get("ask"), list) or not spec["ask"]:
            raise LexiconError(f"{where}: needs an 'ask' list of alternatives")
        alts = []
        phrases_of: dict[int, tuple[str, ...]] = {}
        for a, alt in enumerate(spec["ask"]):
            if not isinstance(alt, list) or not alt:
                raise LexiconError(f"{where}: ask[{a}]: each 'ask' alternative must be a list of word groups")
            gids = []
            for g, group in enumerate(alt):
                at = f"{where}: ask[{a}][{g}]"
                phrases = _expand(_strings(group, at), cue_lists, at)
                add(item_index, phrases, (iid, group_id), at)
                phrases_of[group_id] = tuple(phrases)
                gids.append(group_id)
                group_id += 1
            alts.append(tuple(gids))
        for key, tag in (("context", -1), ("not_if", -2)):
            at = f"{where}: {key}"
            add(item_index, _expand(_strings(spec.get(key), at), cue_lists, at), (iid, tag), at)
        items[iid] = ItemSpec(
            id=iid,
            title=_text(spec.get("title"), f"{where}: title", str(iid)),
            script=_text(spec.get("script"), f"{where}: script", ""),
            alternatives=tuple(alts),
            negative=index(_strings(spec.get("negative"), f"{where}: negative"), iid, f"{where}: negative"),
            negative_alert=_flag(spec, "negative_alert", where, True),
            must_ask=_flag(spec, "must_ask", where, False),
            say=_templates(spec.get("say"), f"{where}: say", iid),
            groups=phrases_of,
        )

    questionnaires: dict[str, Questionnaire] = {}
    raw_q: dict[str, dict[Any, Any]] = {}
    for p in sorted(qdir.glob("*.yaml")):
        if p.name != "items.yaml":
            raw_q[p.stem] = _mapping(_read(p), str(p), "a mapping (name, title, items or extends, detect)")

    def resolve(name: str, seen: tuple[str, ...] = ()) -> list[str]:
        if name in seen:
            raise LexiconError(f"{qdir}: questionnaire '{name}' extends itself")
        spec = raw_q.get(name)
        if spec is None:
            raise LexiconError(f"{qdir}: unknown questionnaire '{name}'")
        where = f"{qdir / (name + '.yaml')}"
        if "extends" in spec:
            base = resolve(_text(spec["extends"], f"{where}: extends", ""), (*seen, name))
            for after, new in _mapping(spec.get("insert_after"), f"{where}: insert_after").items():
                if after not in base:
                    raise LexiconError(f"{where}: insert_after '{after}' is not an item of the base")
                at = base.index(after) + 1
                base[at:at] = _strings(new, f"{where}: insert_after.{after}")
            for removed in _strings(spec.get("remove"), f"{where}: remove"):
                base = [i for i in base if i != removed]
            return base
        return _strings(spec.get("items"), f"{where}: items")

    detect_index = PhraseIndex(mode=PinyinMode.OFF, scanner=scanner)
    for stem, spec in raw_q.items():
        where = f"{qdir / (stem + '.yaml')}"
        name = _text(spec.get("name"), f"{where}: name", stem)
        if name in questionnaires:
            raise LexiconError(f"{where}: name '{name}' is already the name of another questionnaire")
        item_ids = resolve(stem)
        for iid in item_ids:
            if iid not in items:
                raise LexiconError(f"{where}: item '{iid}' is not defined in items.yaml")
        raw_detect = spec.get("detect") or {}
        if not isinstance(raw_detect, dict):
            raw_detect = {"weak": raw_detect}
        strong = _strings(raw_detect.get("strong"), f"{where}: detect.strong")
        weak = _strings(raw_detect.get("weak"), f"{where}: detect.weak")
        add(detect_index, strong, (name, 3), f"{where}: detect.strong")
        add(detect_index, weak, (name, 1), f"{where}: detect.weak")
        detect = tuple(strong + weak)
        questionnaires[name] = Questionnaire(name, _text(spec.get("title"), f"{where}: title", name), tuple(item_ids),
                                             detect)

    default_q = _text(_mapping(settings.get("questionnaire"), f"{d / 'settings.yaml'}: questionnaire").get("default"),
                      f"{d / 'settings.yaml'}: questionnaire.default", "traditional")
    if default_q not in questionnaires:
        raise LexiconError(f"{d / 'settings.yaml'}: default questionnaire '{default_q}' does not exist")
    raw_scripts = _read(d / "scripts.yaml") if (d / "scripts.yaml").exists() else {}
    if not isinstance(raw_scripts, dict):
        raise LexiconError(f"{d / 'scripts.yaml'}: expected a mapping of script names to sentence lists")
    scripts = {str(name): _templates(lines, f"{d / 'scripts.yaml'}: {name}", name) for name, lines in raw_scripts.items()}
    return Lexicon(d, rules, settings, forbidden, filler, cues, items, item_index, questionnaires, default_q, detect_index,
                   content, scripts)
