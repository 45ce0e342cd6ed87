"""What the command line shows people: help that is complete and untruncated, and the `check` table
readable in an 80-column terminal (a rule id is never broken across lines)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import click
from click.testing import CliRunner
from rich.cells import cell_len

from callqa.cli import main

SAMPLES = Path(__file__).resolve().parent.parent / "samples" / "transcripts"


def commands() -> dict[str, click.Command]:
    return dict(main.commands)


def test_top_level_help_lists_every_command_untruncated_at_80_columns():
    result = CliRunner().invoke(main, ["--help"], terminal_width=80, env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    listing = result.output.split("Commands:", 1)[1]
    for name in commands():
        line = next(x for x in listing.splitlines() if x.strip().startswith(name + " "))
        assert not line.rstrip().endswith("..."), f"truncated: {line!r}"
        assert len(line) <= 80


def test_every_option_of_every_command_has_help():
    for name, command in commands().items():
        for param in command.params:
            if isinstance(param, click.Option) and param.name != "help":
                assert param.help, f"callqa {name} {param.opts[0]} has no help text"


def test_check_table_keeps_rule_ids_whole_at_80_columns():
    runner = CliRunner()
    result = runner.invoke(main, ["check", str(SAMPLES)], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert max(cell_len(line.rstrip()) for line in lines) <= 80
    as_json = runner.invoke(main, ["check", str(SAMPLES), "--json"])
    findings = [f for line in as_json.stdout.splitlines() if line.strip() for f in json.loads(line)["findings"]]
    assert findings
    for f in findings:
        rule = re.escape(f["rule"]) + (re.escape(f" [{f['item']}]") if f.get("item") else "")
        # the finding's line holds its severity, rule id, time span and speaker together
        assert any(re.search(rf"\b{f['severity']}\b.*{rule}\s+\d\d:\d\d\.\d–\d\d:\d\d\.\d", line) for line in lines), f
        assert any(f["message"][:12] in line for line in lines), f
