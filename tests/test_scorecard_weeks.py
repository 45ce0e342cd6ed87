"""Which week a scorecard shows, what it says when the data cannot make a trend, and colours with a fixed
meaning (a pass rate under the team's target is never green, whatever the other values shown)."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_scorecard import TEAM1, call, finding, synthetic_rows, write_tables

from callqa.cli_scorecard import scorecard as scorecard_command
from reports.scorecard import build_scorecard, latest_week, pass_rate_bounds, weeks_with_calls
from reports.scorecard_files import write_all
from reports.tables import ReportError, Tables

SYNTHETIC_WEEKS = ["2026-W38", "2026-W39", "2026-W40", "2026-W45", "2026-W46", "2026-W47", "2026-W48"]


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tables(tmp_path_factory.mktemp("weeks") / "out", *synthetic_rows())


@pytest.fixture(scope="module")
def one_week(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One week of calls: team 一组 passes every call, 二组 none, 三组 five of six (83%)."""
    rows = [call("a1", "A1", TEAM1, "2026-11-17T09:00:00+08:00", 95, True, 120.0),
            call("a2", "A1", TEAM1, "2026-11-18T09:00:00+08:00", 91, True, 120.0),
            call("b1", "B1", "二组", "2026-11-18T10:00:00+08:00", 30, False, 170.0),
            *(call(f"c{i}", "C1", "三组", f"2026-11-19T1{i}:00:00+08:00", 80, i > 0, 130.0) for i in range(6))]
    return write_tables(tmp_path_factory.mktemp("one_week") / "out", rows,
                        [finding(rows[2], "question.skipped", severity="critical")])


def test_weeks_with_calls_and_the_latest(synthetic: Path) -> None:
    assert weeks_with_calls(Tables(synthetic)) == SYNTHETIC_WEEKS
    assert latest_week(Tables(synthetic)) == "2026-W48"


def test_command_defaults_to_the_latest_week_with_calls(synthetic: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(scorecard_command, ["--results", str(synthetic), "--dest", str(tmp_path),
                                                    "--format", "csv"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("scorecard 2026-W48 (2026-11-23 – 2026-11-29, the latest week with calls")
    assert "1 calls" in result.stdout


def test_a_week_without_calls_names_the_weeks_that_have_some(synthetic: Path) -> None:
    with pytest.raises(ReportError, match=re.escape("no calls in week 2026-W44 (2026-10-26 – 2026-11-01)")) as err:
        build_scorecard(Tables(synthetic), "2026-W44")
    assert str(err.value).endswith("weeks with calls: " + ", ".join(SYNTHETIC_WEEKS))
    result = CliRunner().invoke(scorecard_command, ["--results", str(synthetic), "--week", "2026-W50"])
    assert result.exit_code == 2
    assert result.stderr.strip().endswith("weeks with calls: " + ", ".join(SYNTHETIC_WEEKS))
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_folder_without_dated_calls_says_what_a_scorecard_needs(tmp_path: Path) -> None:
    out = write_tables(tmp_path / "out", [call("x", "A1", TEAM1, "", 90, True, 120.0)], [])
    result = CliRunner().invoke(scorecard_command, ["--results", str(out)])
    assert result.exit_code == 2
    assert "no calls with a date" in result.stderr and "started_at" in result.stderr


def test_one_week_of_data_says_there_is_no_trend_yet(one_week: Path, tmp_path: Path) -> None:
    sc = build_scorecard(Tables(one_week), "2026-W47")
    assert sc.trend_weeks_with_calls() == ["2026-W47"]
    files = write_all(sc, tmp_path)
    page = next(p for p in files if p.suffix == ".html").read_text(encoding="utf-8")
    note = re.search(r'<p class="note" id="no-trend">([^<]*)</p>', page)
    assert note and "至少两周" in note.group(1) and "2026-W47" in note.group(1)
    assert "<polyline" not in page and "通过率（按周）" not in page
    with zipfile.ZipFile(next(p for p in files if p.suffix == ".xlsx")) as z:
        assert not any(n.startswith("xl/charts/") for n in z.namelist())


def test_two_weeks_make_a_trend(synthetic: Path) -> None:
    sc = build_scorecard(Tables(synthetic), "2026-W46", weeks_back=2)
    assert sc.trend_weeks_with_calls() == ["2026-W45", "2026-W46"]


def team_pass_cells(page: str) -> dict[str, tuple[str, str]]:
    """team -> (class, text) of its pass-rate cell in the teams table."""
    table = page.split("<h2>团队</h2>", 1)[1].split("</table>", 1)[0]
    cells = re.findall(r'<tr><td class="t">([^<]*)</td><td>\d+</td><td class="(\w*)">([^<]*)</td>', table)
    return {team: (cls, text) for team, cls, text in cells}


def test_pass_rate_colours_follow_the_target_not_the_spread(one_week: Path, tmp_path: Path) -> None:
    target, alarm = pass_rate_bounds()
    assert (target, alarm) == (0.9, 0.8)  # lexicons/settings.yaml
    page = next(p for p in write_all(build_scorecard(Tables(one_week), "2026-W47"), tmp_path, ["html"]))
    cells = team_pass_cells(page.read_text(encoding="utf-8"))
    assert cells == {"一组": ("ok", "100.0%"), "二组": ("low", "0.0%"), "三组": ("near", "83.3%")}


def test_a_lone_zero_pass_rate_is_red_not_green(tmp_path: Path) -> None:
    rows = [call("z1", "B1", "二组", "2026-11-18T10:00:00+08:00", 30, False, 170.0)]
    out = write_tables(tmp_path / "out", rows, [])
    page = write_all(build_scorecard(Tables(out), "2026-W47"), tmp_path / "sc", ["html"])[0].read_text(encoding="utf-8")
    assert team_pass_cells(page) == {"二组": ("low", "0.0%")}
    assert "hsl(120" not in page


def test_bad_pass_rate_settings_name_the_file(tmp_path: Path) -> None:
    import shutil

    lex = tmp_path / "lex"
    shutil.copytree(Path(__file__).resolve().parent.parent / "lexicons", lex)
    settings = lex / "settings.yaml"
    settings.write_text(settings.read_text(encoding="utf-8").replace("pass_rate_target: 0.90", "pass_rate_target: 90"),
                        encoding="utf-8")
    with pytest.raises(ReportError, match=re.escape(f"{settings}: scorecard.pass_rate_target 90: expected a share")):
        pass_rate_bounds(lex)
