"""The Monday scorecard job against a real, standalone Prefect server, as the README runs it.

`prefect server start` on the loopback interface (private PREFECT_HOME and SQLite database in a temporary
folder), `callqa scorecard --serve` registering the deployment on its Monday cron and waiting for runs,
`prefect deployment ls` listing it, and `prefect deployment run … --watch` running it through the server:
the scorecard files appear with the numbers of the results folder. Every process is stopped on teardown.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from reportdata import build_output
from servers import STARTUP_S, Process, prefect_server, tail

WEEK = "2026-W47"  # the fixtures' calls
DEPLOYMENT = "callqa-weekly-scorecard/weekly-scorecard"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A standalone Prefect server; yields the environment that points clients at it."""
    with prefect_server(tmp_path_factory.mktemp("prefect")) as env:
        yield env


def prefect(env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "prefect", *args], env={**env, "COLUMNS": "200"},
                          capture_output=True, text=True, timeout=timeout)


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig") as fh:
        return list(csv.DictReader(fh))


def test_weekly_scorecard_deployed_and_run_through_a_real_server(server: dict[str, str], tmp_path: Path) -> None:
    out = build_output(tmp_path / "out")
    serving = Process([sys.executable, "-m", "callqa.cli", "scorecard", "--results", str(out), "--serve"], server,
                      tmp_path / "serve.log", tmp_path)
    try:
        deadline = time.monotonic() + STARTUP_S
        while True:  # the serving process registers the deployment, then polls the server for runs
            assert serving.running(), f"callqa scorecard --serve exited:\n{tail(serving.log)}"
            listed = prefect(server, "deployment", "ls")
            assert listed.returncode == 0, listed.stdout + listed.stderr  # 422 here with fastapi 0.151–0.154
            if "callqa-weekly-scorecard/weekly-scorecard" in listed.stdout:
                break
            assert time.monotonic() < deadline, f"deployment not registered:\n{tail(serving.log)}"
            time.sleep(1)

        inspect = prefect(server, "deployment", "inspect", DEPLOYMENT)
        assert inspect.returncode == 0, inspect.stderr
        assert "0 7 * * 1" in inspect.stdout and "Asia/Shanghai" in inspect.stdout  # the Monday 07:00 schedule

        run = prefect(server, "deployment", "run", DEPLOYMENT, "--param", f'week="{WEEK}"', "--watch",
                      "--watch-timeout", str(STARTUP_S), timeout=STARTUP_S + 60)
        assert run.returncode == 0, f"{run.stdout}\n{run.stderr}\n{tail(serving.log)}"
        assert "Completed" in run.stdout
    finally:
        serving.stop()

    dest = out / "scorecards" / WEEK
    assert (dest / f"scorecard-{WEEK}.html").is_file() and (dest / f"scorecard-{WEEK}.xlsx").is_file()
    # the numbers, against the results folder read directly
    results = [json.loads(p.read_text(encoding="utf-8")) for p in sorted((out / "results").glob("*.json"))]
    (overall,) = read_csv(dest / "csv" / "overall.csv")
    assert int(overall["calls"]) == len(results) == 5
    assert int(overall["passed"]) == sum(r["passed"] for r in results)
    assert float(overall["score"]) == pytest.approx(sum(r["score"] for r in results) / len(results), abs=1e-3)
    teams = {row["team"]: int(row["calls"]) for row in read_csv(dest / "csv" / "teams.csv")}
    assert teams == {"回访一组": 2, "回访二组": 3}
    page = (dest / f"scorecard-{WEEK}.html").read_text(encoding="utf-8")
    assert f"坐席质检周报 {WEEK}" in page
