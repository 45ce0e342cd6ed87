"""Many workers on a real Prefect server, on loopback: the way the README scales callqa out.

One standalone `prefect server start` and an S3-compatible server (moto) for the module; `callqa deploy`,
process workers started with `prefect worker start --pool callqa`, `callqa submit` of short recordings
(10 s cut from the stereo fixtures, so the whole pipeline runs in seconds) in slices, and `callqa slices`.
Checked against the tables and files themselves: every call scored and tabled once, by more than one
worker; a worker killed with SIGKILL mid-slice, then the slice's retry: each call once, no half-written
file, the work done before the kill kept; the same on object storage.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
import soundfile as sf
from servers import ROOT, Process, prefect_server, s3_server, tail

FIXTURES = ROOT / "audio_fixtures"
CLIP_S = 10
WAIT_S = 420  # a batch's deadline on a busy 2-core machine (each slice is a process: ≈12 s to start)

pytestmark = pytest.mark.skipif(not (Path(os.environ.get("CALLQA_MODELS", ROOT / "models")) / "whisper-base-ct2").is_dir(),
                                reason="speech models not fetched (callqa models)")


def cut_clips(folder: Path, count: int, first: int = 0) -> list[str]:
    """`count` different 10-second stereo recordings named for the file-name pattern (agent, date)."""
    folder.mkdir(parents=True, exist_ok=True)
    sources = ["stereo_clean.wav", "stereo_fast_loud.flac", "stereo_agent_right_issues.flac"]
    ids = []
    for k in range(first, first + count):
        data, rate = sf.read(FIXTURES / sources[k % 3])
        start = (k // 3) * CLIP_S * rate
        call_id = f"20261116T1000{k:02d}_A0{17 + k % 2}_clip{k:02d}"
        sf.write(folder / f"{call_id}.flac", data[start : start + CLIP_S * rate], rate)
        ids.append(call_id)
    return ids


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A Prefect server and an S3 server on loopback; yields the environment of clients and workers."""
    home = tmp_path_factory.mktemp("scale")
    with s3_server(home) as aws, prefect_server(home) as env:
        env = {**env, **aws, "CALLQA_MODELS": os.environ.get("CALLQA_MODELS", str(ROOT / "models")),
               "PREFECT_WORKER_QUERY_SECONDS": "2", "PREFECT_WORKER_PREFETCH_SECONDS": "2"}
        yield env


def callqa(env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "callqa.cli", *args], env={**env, "COLUMNS": "200"}, cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)


class Workers:
    """Process workers of the `callqa` pool, one flow run at a time each (so slices spread over them)."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env, self.logs, self.started = env, logs, []  # type: ignore[var-annotated]

    def start(self, name: str) -> Process:
        worker = Process([sys.executable, "-m", "prefect", "worker", "start", "--pool", "callqa", "--type", "process",
                          "--limit", "1", "--name", name], self.env, self.logs / f"{name}.log", self.logs)
        self.started.append(worker)
        return worker

    def stop(self) -> None:
        for w in self.started:
            w.stop()


@pytest.fixture
def workers(cluster: dict[str, str], tmp_path: Path) -> Iterator[Workers]:
    pool = Workers(cluster, tmp_path)
    try:
        yield pool
    finally:
        pool.stop()


def deploy(env: dict[str, str], storage: str) -> None:
    done = callqa(env, "deploy", "--storage", storage)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "callqa-slice/slices" in done.stdout


def batch_of(submitted: subprocess.CompletedProcess[str]) -> str:
    line = next(ln for ln in submitted.stdout.splitlines() if ln.startswith("batch "))
    return line.split()[1].rstrip(":")


def calls_table(out: str) -> pl.DataFrame:
    from results.store import scan_table

    return scan_table(out, "calls").select("call_id", "run_id", "recording").collect()


def slice_reports(out: Path) -> list[dict]:
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted((out / "runs").glob("*.json"))]


def assert_whole_files(out: Path) -> None:
    """Every transcript, result and cache entry reads as JSON: nothing half-written under its name."""
    for folder in ("transcripts", "results", "runs", ".cache"):
        for path in (out / folder).rglob("*.json"):
            json.loads(path.read_text(encoding="utf-8"))


def test_a_batch_in_slices_is_scored_once_by_two_workers(cluster: dict[str, str], workers: Workers,
                                                         tmp_path: Path) -> None:
    ids = cut_clips(tmp_path / "recordings", 4)
    out = tmp_path / "shared" / "out"
    deploy(cluster, str(out))
    started = [workers.start("w1"), workers.start("w2")]
    submitted = callqa(cluster, "submit", str(tmp_path / "recordings"), "--out", str(out), "--slice", "2",
                       "--wait", str(WAIT_S), timeout=WAIT_S + 60)
    logs = "\n".join(tail(w.log) for w in started)
    assert submitted.returncode == 0, f"{submitted.stdout}\n{submitted.stderr}\n{logs}"
    assert "2 slices submitted" in submitted.stdout

    table = calls_table(str(out))
    assert sorted(table["call_id"].to_list()) == sorted(ids)  # each call once
    assert table["run_id"].n_unique() == 2  # one append per slice
    for cid in ids:
        result = json.loads((out / "results" / f"{cid}.json").read_text(encoding="utf-8"))
        assert result["scoring"]["run_id"] in table["run_id"].to_list()
        assert result["recording"].endswith(f"{cid}.flac")
    reports = slice_reports(out)
    assert sorted(r["tabled"] for r in reports) == [2, 2]
    # the slices ran in flow-run processes started by both workers
    assert {r["worker"]["worker_pid"] for r in reports} == {w.pid for w in started}, logs
    assert_whole_files(out)

    listed = callqa(cluster, "slices", batch_of(submitted))
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.count("COMPLETED") == 2
    # the readers show the batch as `callqa run` would: one row per call
    queue = callqa(cluster, "queue", "--results", str(out))
    assert queue.returncode == 0, queue.stderr
    assert "4 calls" in queue.stdout


def wait_for(check, what: str, timeout: float = WAIT_S) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


def crash(env: dict[str, str], batch: str) -> None:
    """What the zombie automation does once a dead worker's heartbeats stop (after 2 minutes): mark the
    slice's run Crashed. Done here at once, through the server's API, so the test need not wait."""
    code = ("import sys\nfrom prefect import get_client\nfrom prefect.states import Crashed\n"
            "from pipelines.deploy import status\n"
            "with get_client(sync_client=True) as c:\n"
            "    for runs in status(sys.argv[1]).values():\n"
            "        c.set_flow_run_state(runs[-1].id, Crashed(message='worker killed'), force=True)\n")
    done = subprocess.run([sys.executable, "-c", code, batch], env=env, capture_output=True, text=True, timeout=120,
                          cwd=ROOT)
    assert done.returncode == 0, done.stderr


def test_a_worker_killed_mid_slice_then_the_retry_scores_each_call_once(cluster: dict[str, str], workers: Workers,
                                                                       tmp_path: Path) -> None:
    ids = cut_clips(tmp_path / "recordings", 3, first=4)
    out = tmp_path / "shared" / "out"
    deploy(cluster, str(out))
    doomed = workers.start("doomed")
    submitted = callqa(cluster, "submit", str(tmp_path / "recordings"), "--out", str(out), "--slice", "3")
    assert submitted.returncode == 0, submitted.stdout + submitted.stderr
    batch = batch_of(submitted)
    # mid-slice: the first transcript is written, the others are not
    wait_for(lambda: any((out / "transcripts").glob("*.json")), "the first transcript")
    doomed.kill()
    kept = {p.name for p in (out / "transcripts").glob("*.json")}
    assert 1 <= len(kept) < 3
    assert not any((out / "results").glob("*.json"))  # killed before scoring: no result, no table row
    assert_whole_files(out)

    crash(cluster, batch)
    workers.start("rescuer")
    again = callqa(cluster, "slices", batch, "--retry")
    assert "1 slices submitted again" in again.stdout, again.stdout + again.stderr
    wait_for(lambda: "COMPLETED" in callqa(cluster, "slices", batch).stdout, "the retried slice")

    table = calls_table(str(out))
    assert sorted(table["call_id"].to_list()) == sorted(ids)  # each call once
    (report,) = slice_reports(out)
    assert report["worker"]["attempt"] == 1 and report["tabled"] == 3
    assert report["transcribed"] == 3 - len(kept)  # the transcript written before the kill was kept
    assert_whole_files(out)


def test_workers_on_object_storage(cluster: dict[str, str], workers: Workers, tmp_path: Path) -> None:
    import fsspec

    ids = cut_clips(tmp_path / "recordings", 2, first=7)
    s3 = fsspec.filesystem("s3", endpoint_url=cluster["AWS_ENDPOINT_URL"], key=cluster["AWS_ACCESS_KEY_ID"],
                           secret=cluster["AWS_SECRET_ACCESS_KEY"])
    for path in sorted((tmp_path / "recordings").iterdir()):
        s3.put_file(str(path), f"callqa/recordings/{path.name}")
    deploy(cluster, "s3://callqa/out")
    started = [workers.start("s3-w1"), workers.start("s3-w2")]
    submitted = callqa(cluster, "submit", "s3://callqa/recordings", "--out", "s3://callqa/out", "--slice", "1",
                       "--wait", str(WAIT_S), timeout=WAIT_S + 60)
    logs = "\n".join(tail(w.log) for w in started)
    assert submitted.returncode == 0, f"{submitted.stdout}\n{submitted.stderr}\n{logs}"

    os.environ.update({k: v for k, v in cluster.items() if k.startswith("AWS_")})  # for the reads below
    table = calls_table("s3://callqa/out")
    assert sorted(table["call_id"].to_list()) == sorted(ids)
    assert set(table["recording"].to_list()) == {f"s3://callqa/recordings/{c}.flac" for c in ids}
    for cid in ids:
        for folder in ("transcripts", "results"):
            json.loads(s3.cat_file(f"callqa/out/{folder}/{cid}.json"))
    assert s3.glob("callqa/out/.cache/asr/*.json") and s3.glob("callqa/out/tables/delta/calls/_delta_log/*.json")
    assert not s3.glob("callqa/out/**/.*.tmp")  # object writes are single PUTs: nothing temporary to leave
