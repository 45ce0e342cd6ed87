"""What a run loads before its first call, while Prefect's temporary server comes up.

The server takes two to three seconds to answer, and the process would only wait for it. Every run
needs Prefect's flow and task engines, which Prefect imports at the first flow (a third of a second).
The first call of a run needs the recogniser (built in a thread that exits: runtime.py says why), jieba's dictionary
(the roles step and the checks) and, when one of the first recordings has one channel, torch and the
diarisation network: together one to three seconds that the first call no longer pays. Each is loaded by
the function its stage calls, once per process behind a lock, so a stage that gets there first waits for
the same object rather than building a second one; a failure is left for that stage to meet and report
for its call. Nothing is loaded when the first recordings' transcripts are current (a re-run loads no
model).

Only loading is done here, not the first call's own work: on two cores, recognition started while the
server process and this one's imports still run made the whole command slower (the recogniser's
threads, waiting on each other, lose their cores), 1.62 against 1.51 times faster-whisper alone.
"""

from __future__ import annotations

import importlib
import threading
from pathlib import Path

from .settings import PipelineSettings

FIRST_CALLS = 8  # the recordings looked at: the calls the loading could delay
PREFECT_ENGINES = ("prefect.flow_engine", "prefect.task_engine")


def to_transcribe(path: Path, out: str | Path, settings: PipelineSettings, pattern: str) -> bool:
    """Whether the run will transcribe `path`: a regular file with a readable header whose transcript is
    not current."""
    from results.store import ResultStore

    from .audio import file_sha256, probe_channels, recording_problem
    from .manifest import call_meta, read_manifest

    if recording_problem(path) is not None or probe_channels(path) < 1:
        return False
    meta = call_meta(path, read_manifest(path.parent), pattern)
    return not ResultStore(out).transcript_current(meta.call_id, file_sha256(path), settings.fingerprint())


def load(recordings: list[Path], out: str | Path, settings: PipelineSettings, pattern: str) -> None:
    """Load what the first calls of these recordings will need (see the module's doc)."""
    from qa_checks.textmatch import load_dictionary

    from .audio import probe_channels
    from .runtime import prepare
    from .speakers import load_diarization
    from .transcribe import whisper_model

    for engine in PREFECT_ENGINES:
        importlib.import_module(engine)
    try:
        todo = [p for p in recordings[:FIRST_CALLS] if to_transcribe(p, out, settings, pattern)]
        if not todo:
            return
        prepare(settings.thread_wait, settings.concurrency)  # before the speech libraries load
        whisper_model(settings)
        load_dictionary()
        if any(probe_channels(p) == 1 for p in todo):
            load_diarization(settings)
    except Exception:  # the stage that needs it loads it again, and reports the failure for its call
        return


def start(recordings: list[Path], out: str | Path, settings: PipelineSettings, pattern: str) -> threading.Thread:
    """`load` in a thread of its own (a daemon: a run with nothing to transcribe does not wait for it);
    `pattern`: the file-name pattern of call ids."""
    thread = threading.Thread(target=load, args=(recordings, out, settings, pattern), name="callqa-warm-up",
                              daemon=True)
    thread.start()
    return thread
