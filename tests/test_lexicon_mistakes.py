"""Every way a hand-edited lexicon goes wrong is a lexicon error naming the file and the entry (exit status
2), never a traceback: wrong shapes, wrong types, bad regular expressions, other encodings, alias bombs."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from callqa.cli import main
from qa_checks import LexiconError, load_lexicon

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "samples" / "transcripts" / "C20261116-0001_clean.json"


def yaml_edit(name: str, change: Callable[[object], object]) -> Callable[[Path], None]:
    def edit(lexicons: Path) -> None:
        path = lexicons / name
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        data = change(data) or data
        path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return edit


def raw(name: str, content: bytes) -> Callable[[Path], None]:
    def edit(lexicons: Path) -> None:
        (lexicons / name).write_bytes(content)
    return edit


def set_in(path: list[object], value: object) -> Callable[[object], None]:
    def change(data: object) -> None:
        node = data
        for key in path[:-1]:
            node = node[key]  # type: ignore[index]
        node[path[-1]] = value  # type: ignore[index]
    return change


ITEMS = "questionnaires/items.yaml"
BOMB = b"a: &a {x: [1], y: [1]}\n" + b"".join(
    b"l%d: &l%d {x: *%s, y: *%s}\n" % (i, i, b"a" if i == 0 else b"l%d" % (i - 1), b"a" if i == 0 else b"l%d" % (i - 1))
    for i in range(40))

MISTAKES = {
    "bad regex in items.yaml": (yaml_edit(ITEMS, set_in(["cooling_off", "context"], ["re:(犹豫期"])),
                                "items.yaml: cooling_off: context: bad regular expression 're:(犹豫期'"),
    "bad regex in forbidden.yaml": (yaml_edit("forbidden.yaml", set_in(["forbidden.excuse", "phrases"], ["re:[a-"])),
                                    "forbidden.yaml: forbidden.excuse: phrases: bad regular expression"),
    "weight: lots": (yaml_edit("rules.yaml", set_in(["forbidden.vague", "weight"], "lots")),
                     "rules.yaml: forbidden.vague: weight must be a number"),
    "weight: .inf": (yaml_edit("rules.yaml", set_in(["forbidden.vague", "weight"], float("inf"))),
                     "rules.yaml: forbidden.vague: weight must be a number"),
    "forbidden.yaml as a list": (yaml_edit("forbidden.yaml", lambda d: list(d)),
                                 "forbidden.yaml: expected a mapping of forbidden categories, got a list"),
    "a forbidden entry given as a string": (yaml_edit("forbidden.yaml", set_in(["forbidden.vague"], "大概")),
                                            "forbidden.yaml: forbidden.vague: expected a mapping"),
    "phrases given as one string": (yaml_edit("forbidden.yaml", set_in(["forbidden.vague", "phrases"], "大概")),
                                    "forbidden.yaml: forbidden.vague: phrases: expected a list of phrases, got a "
                                    "single text"),
    "a flag given as a word": (yaml_edit("forbidden.yaml", set_in(["forbidden.vague", "negatable"], "yes please")),
                               "forbidden.yaml: forbidden.vague: negatable must be true or false"),
    "settings.yaml as a list": (yaml_edit("settings.yaml", lambda d: list(d)),
                                "settings.yaml: expected a mapping of setting sections, got a list"),
    "a settings section as a list": (yaml_edit("settings.yaml", set_in(["rate"], [100, 150])),
                                     "settings.yaml: rate: expected a mapping of settings"),
    "non-numeric rate.lower": (yaml_edit("settings.yaml", set_in(["rate", "lower"], "slow")),
                               "settings.yaml: rate.lower: expected a number, got 'slow'"),
    "negative threshold": (yaml_edit("settings.yaml", set_in(["dynamics", "dead_air_seconds"], -5)),
                           "settings.yaml: dynamics.dead_air_seconds: expected a finite number ≥ 0, got -5"),
    "zero window": (yaml_edit("settings.yaml", set_in(["rate", "window_seconds"], 0)),
                    "settings.yaml: rate.window_seconds: expected a number above 0, got 0"),
    "score weight lots": (yaml_edit("settings.yaml", set_in(["scoring", "weights", "major"], "lots")),
                          "settings.yaml: scoring.weights.major: expected a number of points"),
    "non-UTF-8 cues.yaml": (lambda d: (d / "cues.yaml").write_bytes((d / "cues.yaml").read_text(
        encoding="utf-8").encode("gbk", "replace")), "cues.yaml: not UTF-8 text (line"),
    "a cue list given as one string": (yaml_edit("cues.yaml", set_in(["farewell"], "再见")),
                                       "cues.yaml: farewell: expected a list of phrases or a mapping of cue lists, got str"),
    "a cue phrase that is a mapping": (yaml_edit("cues.yaml", set_in(["farewell"], [{"再见": 1}])),
                                       "cues.yaml: farewell: expected a list of phrases, but one entry is a mapping"),
    "cues.yaml as plain text": (raw("cues.yaml", "再见".encode()),
                                "cues.yaml: expected a mapping of cue lists"),
    "not YAML": (raw("rules.yaml", b"opening.self_id: {kind: [violation\n"), "rules.yaml: not valid YAML"),
    "YAML aliases that explode": (raw("cues.yaml", BOMB), "cues.yaml: nested too deeply or too large"),
    "an alias that loops": (raw("cues.yaml", b"a: &a {b: *a}\n"), "cues.yaml: nested too deeply or too large"),
    "an item's ask given as a string": (yaml_edit(ITEMS, set_in(["cooling_off", "ask"], "犹豫期")),
                                        "items.yaml: cooling_off: needs an 'ask' list of alternatives"),
    "an item's word group given as a number": (yaml_edit(ITEMS, set_in(["cooling_off", "ask"], [[3.5]])),
                                               "items.yaml: cooling_off: ask[0][0]: expected a list of phrases"),
    "a questionnaire as a list": (yaml_edit("questionnaires/universal.yaml", lambda d: ["x"]),
                                  "universal.yaml: expected a mapping"),
    "two questionnaires with one name": (yaml_edit("questionnaires/universal.yaml", set_in(["name"], "participating")),
                                         "name 'participating' is already the name of another questionnaire"),
    "insert_after as a list": (yaml_edit("questionnaires/universal.yaml", set_in(["insert_after"], ["premium_terms"])),
                               "universal.yaml: insert_after: expected a mapping"),
    "a folder where a file belongs": (lambda d: ((d / "rules.yaml").unlink(), (d / "rules.yaml").mkdir()),
                                      "rules.yaml: a folder where a lexicon file belongs"),
}


@pytest.mark.parametrize("mistake", list(MISTAKES))
def test_a_lexicon_mistake_is_a_lexicon_error_naming_file_and_entry(mistake: str, tmp_path: Path) -> None:
    edit, message = MISTAKES[mistake]
    lexicons = Path(shutil.copytree(ROOT / "lexicons", tmp_path / "lexicons"))
    edit(lexicons)
    with pytest.raises(LexiconError) as exc:
        load_lexicon(lexicons)
    assert message in str(exc.value)


@pytest.mark.parametrize("mistake", ["bad regex in items.yaml", "forbidden.yaml as a list", "non-UTF-8 cues.yaml",
                                     "YAML aliases that explode"])
def test_the_command_line_exits_2_with_the_message(mistake: str, tmp_path: Path) -> None:
    edit, message = MISTAKES[mistake]
    lexicons = Path(shutil.copytree(ROOT / "lexicons", tmp_path / "lexicons"))
    edit(lexicons)
    for command in (["check", str(SAMPLE)], ["rules"]):
        result = CliRunner().invoke(main, [*command, "--lexicons", str(lexicons)])
        assert result.exit_code == 2, result.output
        assert message in result.stderr and "Traceback" not in result.output
