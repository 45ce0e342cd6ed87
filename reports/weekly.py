"""The weekly scorecard as a Prefect flow, for a deployment that runs every Monday morning.

    weekly_scorecard("out")                       # last complete ISO week, into out/scorecards/<week>/
    weekly_scorecard("out", week="2026-W47", dest="/srv/reports/2026-W47")
    deploy_weekly("out")                          # serve it: every Monday 07:00 (Asia/Shanghai); blocks

or, from a shell: `callqa scorecard --results out --serve`. Serving needs a Prefect server that keeps the
schedule (`prefect server start`, then PREFECT_API_URL=http://127.0.0.1:4200/api for the serving
process): the temporary server Prefect starts by itself cannot schedule runs.

The flow only strings together the functions of reports.scorecard; a week without calls fails the run
with a message naming the week and the folder, and is not retried.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from prefect import flow, task

from workspace.store import results_workspace

from .scorecard import FORMATS, Scorecard, build_scorecard, previous_week
from .scorecard_files import write_all
from .tables import ReportError, Tables, parse_week

CRON = "0 7 * * 1"  # Mondays 07:00: the week before is complete and its calls have been scored overnight
TIMEZONE = "Asia/Shanghai"
DEPLOYMENT = "weekly-scorecard"


def _retry_unless_report_error(_task: Any, _run: Any, state: Any) -> bool:
    """Retry what may pass next time (a folder being written, a full disk), not a bad week or no calls."""
    try:
        state.result()
    except ReportError:
        return False
    except Exception:
        return True
    return False


def default_dest(out_dir: str | Path, week: str) -> Path:
    return Path(out_dir) / "scorecards" / week


@task(name="build-scorecard", retries=2, retry_delay_seconds=30, retry_condition_fn=_retry_unless_report_error,
      persist_result=False)
def build_task(out_dir: str, week: str, weeks_back: int, db: str | None = None) -> Scorecard:
    workspace = results_workspace(out_dir, db)  # reviewed scores and follow-up cases, where there is a workspace
    try:
        return build_scorecard(Tables(Path(out_dir)), week, weeks_back, workspace=workspace)
    finally:
        if workspace is not None:
            workspace.close()


@task(name="write-scorecard", retries=2, retry_delay_seconds=10, retry_condition_fn=_retry_unless_report_error,
      persist_result=False)
def write_task(scorecard: Scorecard, dest: str, formats: Sequence[str]) -> list[str]:
    return [str(p) for p in write_all(scorecard, dest, formats)]


@flow(name="callqa-weekly-scorecard", log_prints=True)
def weekly_scorecard(out_dir: str, week: str | None = None, dest: str | None = None, weeks_back: int = 8,
                     formats: list[str] | None = None, db: str | None = None) -> list[str]:
    """Build and write the scorecard of `week` (default: the last complete ISO week) from the result
    tables in `out_dir` (and the review workspace `db`, default the folder's own, where there is one);
    returns the files written (default folder: out_dir/scorecards/<week>/)."""
    week = week or previous_week(dt.date.today())
    parse_week(week)  # a malformed week fails here, before any task
    target = dest or str(default_dest(out_dir, week))
    scorecard = build_task(out_dir, week, weeks_back, db)
    files = write_task(scorecard, target, list(formats or FORMATS))
    print(f"scorecard {scorecard.week}: {scorecard.overall['calls'][0]} calls, {len(files)} files in {target}")
    return files


def require_server() -> None:
    """Raise ReportError unless a Prefect server is configured: a temporary one cannot schedule runs."""
    from prefect.settings import PREFECT_API_URL

    if not PREFECT_API_URL.value():
        raise ReportError("serving on a schedule needs a Prefect server: run `prefect server start` and set "
                          "PREFECT_API_URL (e.g. http://127.0.0.1:4200/api); Prefect's temporary server cannot "
                          "schedule runs")


def deploy_weekly(out_dir: str | Path, dest: str | None = None, weeks_back: int = 8, name: str = DEPLOYMENT,
                  cron: str = CRON, timezone: str = TIMEZONE, db: str | None = None) -> None:
    """Serve the flow on a Monday cron (blocks until stopped). Each run picks the week that just ended;
    `dest` of None writes into out_dir/scorecards/<week>/ so every week keeps its own folder."""
    from prefect.schedules import Cron

    require_server()
    params: dict[str, Any] = {"out_dir": str(Path(out_dir).resolve()), "weeks_back": weeks_back}
    if dest:
        params["dest"] = str(Path(dest).resolve())
    if db:
        params["db"] = db
    weekly_scorecard.serve(name=name, schedule=Cron(cron, timezone=timezone), parameters=params,
                           description=f"Weekly QA scorecard of {params['out_dir']}, {cron} ({timezone})")


__all__ = ["CRON", "deploy_weekly", "require_server", "weekly_scorecard"]
