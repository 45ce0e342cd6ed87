"""What a run loads, and the first call's work it begins, while Prefect's temporary server comes up.

The server takes two to three seconds to answer, and the process would only wait for it. Every run
needs what Prefect imports at its first flow (0.7 s). The first call of a run needs the recogniser (built
in a thread that exits: runtime.py says why), jieba's dictionary and the lexicons (the roles step and the
checks), the results tables' engine and, when one of the first recordings has one channel, the
diarisation network: together one to three seconds that the first call no longer pays. Each is loaded by
the function its stage calls, once per process behind a lock, so a stage that gets there first waits for
the same object rather than building a second one; a failure is left for that stage to meet and report
for its call. Nothing is loaded when the first recordings' transcripts are current (a re-run loads no
model).

Once the server answers (`WarmUp.server_ready`), the flows take another half second to set up: the
process sends a few requests and the server answers each on one core, so the other core is idle. The
warm-up uses it for the first call's first stage (`work_ahead`), done by the stage's own code for the
stage to pick up: a mono call's speaker separation (about a second of CAM++), or the voice-activity
detection and features of a stereo call's first track (a third of a second). Measured on a 2-core
machine, with faster-whisper alone as 1: mono 1.91 → 1.81, and this with the loading above stereo 1.48
→ 1.41. Nothing is begun before the server answers, nor when it never does (`WarmUp.cancel`): recognition
started while the server process and this one's imports still ran made the whole command slower (the
recogniser's threads, waiting on each other, lose their cores), 1.62 against 1.51.
"""

from __future__ import annotations

import importlib
import threading
from pathlib import Path

from .settings import PipelineSettings

FIRST_CALLS = 8  # the recordings looked at: the calls the loading could delay
# What Prefect imports at a process's first flow call: its flow and task engines, the flow-graph module
# (Flow.__call__) and FastAPI's JSON encoder (the flow run's parameters): 0.7 s, which the run would
# otherwise spend after the server answers, before its first stage.
PREFECT_FIRST_FLOW = ("prefect.flow_engine", "prefect.task_engine", "prefect.utilities.visualization",
                      "fastapi.encoders")
RESULTS_TABLES = "deltalake"  # the results tables' engine (results/slice_tables.py), first used at the end
SERVER_WAIT_S = 600  # how long the warm-up waits to hear whether the flows will run
# Work is begun ahead on calls up to this long only: the warm-up decodes the recording beside the stage's
# own decoding, and a four-hour file would be held twice (880 MiB each at 16 kHz).
AHEAD_MAX_S = 20 * 60


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


class WarmUp:
    """The warm-up thread of a run, and what it is told of the server: answering (`server_ready`), or
    never to be (`cancel`)."""

    def __init__(self, recordings: list[Path], out: str | Path, settings: PipelineSettings, pattern: str,
                 lexicons: str | None = None):
        self._ready = threading.Event()
        self._cancelled = False
        # a daemon: a run with nothing to transcribe does not wait for it
        self.thread = threading.Thread(target=load, args=(recordings, out, settings, pattern, lexicons, self),
                                       name="callqa-warm-up", daemon=True)

    def server_ready(self) -> None:
        self._ready.set()

    def cancel(self) -> None:
        self._cancelled = True
        self._ready.set()

    def wait_for_server(self, timeout: float = SERVER_WAIT_S) -> bool:
        """Whether the flows will run (the server answers), once that is known."""
        return self._ready.wait(timeout) and not self._cancelled


def work_ahead(path: Path, out: str | Path, settings: PipelineSettings, mono: bool) -> None:
    """The first call's first stages, done as the stages do them, for the stages to pick up: a mono call's
    speaker separation (stored: the stage reads it, or waits for it: stage_cache.py), or the beginning of
    a stereo call's first track (transcribe.begin_ahead)."""
    from results.store import ResultStore

    from .audio import file_sha256, load_audio
    from .stage_cache import StageCache
    from .transcription import begin_first_track, cached_separation

    audio = load_audio(path, settings, file_sha256(path))
    cache = StageCache(ResultStore(out).root / ".cache")
    if mono:
        cached_separation(audio, settings, cache)
    else:
        begin_first_track(audio, settings, cache)


def load(recordings: list[Path], out: str | Path, settings: PipelineSettings, pattern: str,
         lexicons: str | None = None, warm: WarmUp | None = None) -> None:
    """Load what the first calls of these recordings will need, then, once the server answers, begin the
    first one's first stage (see the module's doc)."""
    from qa_checks import load_lexicon
    from qa_checks.textmatch import load_dictionary

    from .audio import probe_channels, probe_duration
    from .runtime import prepare
    from .speakers import load_diarization
    from .transcribe import whisper_model

    for module in PREFECT_FIRST_FLOW:
        importlib.import_module(module)
    try:
        todo = [p for p in recordings[:FIRST_CALLS] if to_transcribe(p, out, settings, pattern)]
        if not todo:
            return
        prepare(settings.thread_wait, settings.concurrency)  # before the speech libraries load
        mono = [p for p in todo if probe_channels(p) == 1]
        if mono:
            load_diarization(settings)
        whisper_model(settings)
        load_dictionary()
        load_lexicon(lexicons)
        importlib.import_module(RESULTS_TABLES)
        if 0 < probe_duration(todo[0]) <= AHEAD_MAX_S and warm is not None and warm.wait_for_server():
            work_ahead(todo[0], out, settings, mono=todo[0] in mono)
    except Exception:  # the stage that needs it does it again, and reports the failure for its call
        return


def start(recordings: list[Path], out: str | Path, settings: PipelineSettings, pattern: str,
          lexicons: str | None = None) -> WarmUp:
    """`load` in a thread of its own; `pattern`: the file-name pattern of call ids; `lexicons`: the run's."""
    warm = WarmUp(recordings, out, settings, pattern, lexicons)
    warm.thread.start()
    return warm
