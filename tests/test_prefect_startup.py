"""Prefect's temporary server: started before any flow with a longer wait, started again when it does not
come up, and when it never does, one line saying so and what to do, with a run report written."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(PREFECT_HOME=str(tmp_path / "prefect-home"), PYTHONPATH=str(ROOT), **extra)
    return env


ONE_FLOW = "from prefect import flow\n@flow\ndef one() -> int:\n    return 1\n"  # a flow the scripts run


def _python(script: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)


def test_a_server_that_does_not_start_in_time_is_started_again(tmp_path: Path) -> None:
    script = (
        "import httpx\n"
        "from pipelines.orchestration import ensure_prefect_api\n"
        "api = ensure_prefect_api(waits=[0, 180])\n"  # the first wait is too short for any server
        "assert httpx.get(api + '/health').status_code == 200\n"
        + ONE_FLOW
        + "print(api, one())\n"
    )
    done = _python(script, _env(tmp_path))
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().endswith(" 1") and "/api" in done.stdout


def test_when_it_never_starts_the_run_says_so_in_one_line_and_writes_its_report(tmp_path: Path) -> None:
    recordings = tmp_path / "rec"
    recordings.mkdir()
    shutil.copy(ROOT / "audio_fixtures" / "stereo_clean.wav", recordings / "a.wav")
    out = tmp_path / "out"
    env = _env(tmp_path, PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="0")
    done = subprocess.run([sys.executable, "-m", "callqa.cli", "run", str(recordings), "--out", str(out)], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 1
    errors = [line for line in done.stderr.splitlines() if line.startswith("callqa: error:")]
    assert len(errors) == 1 and "Traceback" not in done.stderr
    assert "Prefect's temporary server did not start (2 tries" in errors[0]
    assert "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS=300" in errors[0] and "PREFECT_API_URL" in errors[0]
    (report_file,) = (out / "runs").glob("*.json")
    report = json.loads(report_file.read_text(encoding="utf-8"))
    assert "did not start" in report["error"] and report["counts"] == {"scored": 0, "skipped": 0, "failed": 1}
    assert report["outcomes"][0]["path"].endswith("a.wav") and "not processed" in report["outcomes"][0]["error"]
    assert not list((out / "transcripts").glob("*.json"))
    assert not (out / ".cache").exists()  # no call's work was begun ahead of a flow that never ran


def test_the_server_launched_early_is_the_one_the_flows_use_and_it_ends_with_the_process(tmp_path: Path) -> None:
    script = (
        "import os\n"
        "from pipelines import orchestration\n"
        "orchestration.launch_early()\n"  # before Prefect is imported, as the callqa command does
        "pid = orchestration._early.process.pid\n"
        "from prefect.settings import get_current_settings\n"
        "api = orchestration.ensure_prefect_api()\n"
        "assert api == os.environ['PREFECT_API_URL'] == get_current_settings().api.url, api\n"
        + ONE_FLOW
        + "with orchestration.quiet_heartbeats():\n"
        "    assert get_current_settings().flows.heartbeat_frequency is None\n"
        "    print(pid, one())\n"
    )
    done = _python(script, _env(tmp_path))
    assert done.returncode == 0, done.stderr[-3000:]
    pid, result = done.stdout.split()
    assert result == "1"
    # told to stop at the process's exit, the server finishes its shutdown on its own, within seconds
    proc = Path(f"/proc/{pid}")
    deadline = time.monotonic() + 30
    while proc.exists() and "zombie" not in _status(proc) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not proc.exists() or "zombie" in _status(proc)


def _status(proc: Path) -> str:
    try:
        return (proc / "status").read_text()
    except OSError:  # the process ended between the two looks
        return "zombie"


def test_a_server_named_in_the_settings_is_used_and_the_early_one_stopped(tmp_path: Path) -> None:
    """A profile (not the environment) names the user's own server: the early launch is stopped and the
    run reaches, or names, that server."""
    home = tmp_path / "prefect-home"
    home.mkdir()
    (home / "profiles.toml").write_text('active = "own"\n[profiles.own]\nPREFECT_API_URL = "http://127.0.0.1:9/api"\n',
                                        encoding="utf-8")
    script = (
        "from pipelines import orchestration\n"
        "orchestration.launch_early()\n"
        "early = orchestration._early\n"
        "try:\n"
        "    orchestration.ensure_prefect_api()\n"
        "except orchestration.OrchestrationError as exc:\n"
        "    print('refused:', exc)\n"
        "assert orchestration._early is None and early.process is None\n"
    )
    done = _python(script, _env(tmp_path, PREFECT_PROFILES_PATH=str(home / "profiles.toml")))
    assert done.returncode == 0, done.stderr[-3000:]
    assert "refused: the Prefect server at http://127.0.0.1:9/api (PREFECT_API_URL) does not answer" in done.stdout
