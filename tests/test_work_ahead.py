"""Work begun ahead of its stage: one computation per stage-cache entry in a process, the recogniser's first
pass begun by another thread, and a run's warm-up doing its first call's first stage once the server answers."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from pipelines.stage_cache import StageCache

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "audio_fixtures"


def test_two_threads_asking_for_one_entry_compute_it_once(tmp_path: Path) -> None:
    cache = StageCache(tmp_path / ".cache")
    started, calls, got = threading.Event(), [], []

    def compute() -> list[int]:
        calls.append(threading.current_thread().name)
        started.set()
        time.sleep(0.3)  # the second caller arrives while this runs
        return [1, 2]

    def ask() -> None:
        got.append(cache.cached("speakers", "k" * 16, compute, lambda v: v, list))

    first = threading.Thread(target=ask, name="first")
    first.start()
    started.wait(5)
    ask()
    first.join()
    assert calls == ["first"] and got == [[1, 2], [1, 2]]
    assert cache.load("speakers", "k" * 16, list) == [1, 2]


def test_when_the_first_computation_fails_the_waiting_one_computes(tmp_path: Path) -> None:
    cache = StageCache(tmp_path / ".cache")
    started, failed, calls = threading.Event(), threading.Event(), []

    def failing() -> list[int]:
        calls.append("failing")
        started.set()
        time.sleep(0.3)
        failed.set()
        raise RuntimeError("broken")

    def fine() -> list[int]:
        calls.append("fine" if failed.is_set() else "fine, without waiting for the first")
        return [3]

    errors: list[BaseException] = []

    def first() -> None:
        try:
            cache.cached("asr", "f" * 16, failing, lambda v: v, list)
        except RuntimeError as exc:
            errors.append(exc)

    thread = threading.Thread(target=first)
    thread.start()
    started.wait(5)
    assert cache.cached("asr", "f" * 16, fine, lambda v: v, list) == [3]
    thread.join()
    assert calls == ["failing", "fine"] and len(errors) == 1


def _models_ready() -> bool:
    from pipelines.models import models_ready

    return models_ready()


needs_models = pytest.mark.skipif(not _models_ready(), reason="models not fetched: run setup.sh")


@needs_models
def test_a_first_pass_begun_by_another_thread_gives_the_same_words() -> None:
    from pipelines import transcribe as asr
    from pipelines.audio import load_audio
    from pipelines.settings import PipelineSettings

    settings = PipelineSettings.from_env()
    audio = load_audio(FIXTURES / "stereo_clean.wav", settings)
    x = audio.samples[0]
    offsets = [(0.0, len(x) / 16000, 0.0)]
    plain = list(asr.transcribe(x, offsets, settings))
    assert asr.can_begin_ahead(settings)
    thread = threading.Thread(target=asr.begin_ahead, args=("call-1", x, settings))
    thread.start()
    thread.join()
    assert "call-1" in asr._AHEAD
    ahead = list(asr.transcribe(x, offsets, settings, ahead="call-1"))
    assert "call-1" not in asr._AHEAD  # taken by the stage, not kept
    assert ahead == plain and plain


@needs_models
@pytest.mark.parametrize("name", ["mono_clean.wav", "stereo_clean.wav"])
def test_the_warm_up_does_the_first_calls_first_stage_once_the_server_answers(tmp_path: Path, name: str) -> None:
    import shutil

    from pipelines import transcribe as asr
    from pipelines import warmup
    from pipelines.audio import file_sha256, load_audio
    from pipelines.manifest import DEFAULT_PATTERN
    from pipelines.settings import PipelineSettings
    from pipelines.transcription import SPEAKER_STAGES, _stage_key

    settings = PipelineSettings.from_env()
    recording = tmp_path / "rec" / name
    recording.parent.mkdir()
    shutil.copy(FIXTURES / name, recording)
    out = tmp_path / "out"
    cancelled = warmup.start([recording], out, settings, DEFAULT_PATTERN)
    cancelled.cancel()  # the server never answered: nothing is begun
    cancelled.thread.join(120)
    assert not (out / ".cache").exists()

    warm = warmup.start([recording], out, settings, DEFAULT_PATTERN)
    warm.server_ready()
    warm.thread.join(120)
    audio = load_audio(recording, settings, file_sha256(recording))
    separated = (out / ".cache" / "speakers").glob("*.json")
    if name.startswith("mono"):  # the diarisation, stored for its stage
        assert [p.stem for p in separated] == [_stage_key(audio, settings, *SPEAKER_STAGES)]
    else:  # the first channel's first pass, waiting for its stage
        key = f"{_stage_key(audio, settings, *SPEAKER_STAGES, 'transcribe')}-channel_0"
        assert list(asr._AHEAD) == [key]
        asr._take_ahead(key)


@needs_models
def test_no_work_is_begun_ahead_on_a_long_recording(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    from pipelines import warmup
    from pipelines.manifest import DEFAULT_PATTERN
    from pipelines.settings import PipelineSettings

    monkeypatch.setattr(warmup, "AHEAD_MAX_S", 10)  # the mono fixture is longer than this
    recording = tmp_path / "rec" / "mono_clean.wav"
    recording.parent.mkdir()
    shutil.copy(FIXTURES / "mono_clean.wav", recording)
    warm = warmup.start([recording], tmp_path / "out", PipelineSettings.from_env(), DEFAULT_PATTERN)
    warm.server_ready()
    warm.thread.join(120)
    assert not warm.thread.is_alive() and not (tmp_path / "out" / ".cache").exists()
