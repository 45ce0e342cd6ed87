"""The rule registry: every rule tied to its check, the lexicons validated against it both ways, and each
check's declared settings and cue lists being exactly what it reads."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from callbuilder import CLEAN, make_call
from click.testing import CliRunner

from callqa.cli import main
from callqa.transcripts import load_transcript
from qa_checks import LexiconError, check_call, load_lexicon
from qa_checks.call import AnalyzedCall
from qa_checks.catalogue import markdown_table
from qa_checks.lexicon import Lexicon
from qa_checks.registry import CHECKS, CORE, MEASURES, enabled_checks, registered_rules

ROOT = Path(__file__).resolve().parents[1]
LEXICONS = ROOT / "lexicons"
SAMPLE = ROOT / "samples" / "transcripts"


def test_every_rule_of_the_rulebook_has_one_check():
    rules = registered_rules()
    assert len(rules) == len(set(rules))  # one check per rule
    documented = set(yaml.safe_load((LEXICONS / "rules.yaml").read_text(encoding="utf-8")))
    assert set(rules) == documented
    assert all(c.doc for c in CHECKS.values())  # every check carries its rule's documentation


def test_a_disabled_rules_check_does_not_run(tmp_path, monkeypatch):
    lexicons = Path(shutil.copytree(LEXICONS, tmp_path / "lexicons"))
    rules = yaml.safe_load((lexicons / "rules.yaml").read_text(encoding="utf-8"))
    rules["rate.too_slow"]["enabled"] = False
    (lexicons / "rules.yaml").write_text(yaml.safe_dump(rules, allow_unicode=True), encoding="utf-8")
    lex = load_lexicon(lexicons)
    assert "check_too_slow" not in {c.name for c in enabled_checks(lex)}
    slow = make_call(agent_cps=1.2)
    assert "rate.too_slow" in {f.rule for f in check_call(slow, load_lexicon(LEXICONS)).findings}
    ran = []
    check = CHECKS["check_too_slow"]
    monkeypatch.setitem(CHECKS, "check_too_slow", type(check)(check.name, check.rules,
                                                             lambda call: ran.append(1) or [], check.needs, check.doc))
    result = check_call(slow, lex)
    assert ran == [] and "rate.too_slow" not in {f.rule for f in result.findings}
    assert result.metrics["agent_chars_per_min"] < 100  # measures run whatever rules are on


def _broken(tmp_path: Path, edit) -> Path:
    lexicons = Path(shutil.copytree(LEXICONS, tmp_path / "lexicons"))
    edit(lexicons)
    return lexicons


def _yaml_edit(name: str, change):
    def edit(lexicons: Path) -> None:
        path = lexicons / name
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        change(data)
        path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return edit


MISTAKES = {
    "unknown rule id": (_yaml_edit("rules.yaml", lambda d: d.update({"forbidden.rude": dict(d["forbidden.vague"])})),
                        "rules.yaml: forbidden.rude: not a rule id the engine knows"),
    "rule without an entry": (_yaml_edit("rules.yaml", lambda d: d.pop("identity.weak")),
                              "rules.yaml: identity.weak: missing entry"),
    "missing cue list": (_yaml_edit("cues.yaml", lambda d: d.pop("farewell")), "cues.yaml: missing cue list 'farewell'"),
    "missing setting": (_yaml_edit("settings.yaml", lambda d: d["rate"].pop("window_upper")),
                        "settings.yaml: missing setting 'rate.window_upper'"),
    "setting of the wrong type": (_yaml_edit("settings.yaml", lambda d: d["rate"].update(lower="fast")),
                                  "settings.yaml: rate.lower: expected a number, got 'fast'"),
    "whole number expected": (_yaml_edit("settings.yaml", lambda d: d["questionnaire"].update(answer_turns=1.5)),
                              "settings.yaml: questionnaire.answer_turns: expected a whole number"),
    "weight not a number": (_yaml_edit("rules.yaml", lambda d: d["forbidden.vague"].update(weight="lots")),
                            "rules.yaml: forbidden.vague: weight must be a number"),
}


@pytest.mark.parametrize("mistake", list(MISTAKES))
def test_a_lexicon_mistake_is_named_with_its_file_and_entry(mistake, tmp_path):
    edit, message = MISTAKES[mistake]
    lexicons = _broken(tmp_path, edit)
    with pytest.raises(LexiconError) as exc:
        load_lexicon(lexicons)
    assert message in str(exc.value)
    for command in (["check", str(SAMPLE)], ["rules"], ["rescore", "--results", str(tmp_path)]):
        result = CliRunner().invoke(main, [*command, "--lexicons", str(lexicons)])
        assert result.exit_code == 2, (command, result.output)
        assert message in result.output and "Traceback" not in result.output


class Recorder:
    """Every setting and cue list read through a Lexicon, while installed."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch):
        self.settings: set[str] = set()
        self.cues: set[str] = set()
        setting, cue = Lexicon.setting, Lexicon.cue

        def record_setting(lex: Lexicon, path: str):
            self.settings.add(path)
            return setting(lex, path)

        def record_cue(lex: Lexicon, name: str):
            self.cues.add(name)
            return cue(lex, name)

        monkeypatch.setattr(Lexicon, "setting", record_setting)
        monkeypatch.setattr(Lexicon, "cue", record_cue)

    def clear(self) -> None:
        self.settings.clear()
        self.cues.clear()


def _calls():
    calls = [make_call(), make_call(CLEAN[:6], questionnaire=None), make_call(agent_cps=3.5)]
    for folder in sorted(ROOT.glob("tests/labelled*/calls")):
        calls += [load_transcript(p) for p in sorted(folder.glob("*.json"))[::4]]
    return calls


def test_each_check_declares_what_it_reads(monkeypatch):
    lex = load_lexicon()
    recorder = Recorder(monkeypatch)
    calls = _calls()
    for unit in [*CHECKS.values(), *MEASURES.values()]:
        for transcript in calls:
            recorder.clear()
            call = AnalyzedCall(transcript, lex)  # fresh: shared analyses are computed again, and recorded
            list(unit.run(call))
            declared = unit.needs + CORE
            assert recorder.settings <= set(declared.settings), (unit.name, recorder.settings - set(declared.settings))
            assert recorder.cues <= set(declared.cues), (unit.name, recorder.cues - set(declared.cues))


def test_the_readme_rules_table_is_the_catalogue():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme.split("<!-- rules: `callqa rules --markdown` -->\n")[1].split("\n<!-- /rules -->")[0]
    assert table == markdown_table(load_lexicon()), "README rules table differs: paste `callqa rules --markdown`"


def test_rules_command_prints_the_catalogue():
    result = CliRunner().invoke(main, ["rules"], terminal_width=80)
    assert result.exit_code == 0
    for rule in ("opening.self_id", "question.skipped", "dynamics.dead_air"):
        assert rule in result.output
    assert "开场未自报身份" in result.output.replace("\n", "").replace(" ", "")
