"""The two-speaker diarisation path (pipelines/two_speakers.py) and the process set-up (pipelines/runtime.py).

The pieces are checked on data whose answer is known; the whole path once on a fixture recording with
the real CAM++ weights (a few seconds on CPU).
"""

import json
import os
import sys
import threading
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from pipelines import runtime
from pipelines.two_speakers import (
    VAD_FRAME,
    Params,
    Region,
    join_turns,
    label_region,
    speech_regions,
    two_centroids,
    window_stats,
)

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "audio_fixtures"
FRAME = VAD_FRAME / 16000


def probabilities(spans: list[tuple[float, float, float]], seconds: float) -> np.ndarray:
    """Speech probabilities per VAD frame: `level` inside each (start, end, level), 0.02 elsewhere."""
    prob = np.full(int(seconds / FRAME), 0.02, dtype=np.float32)
    for a, b, level in spans:
        prob[int(a / FRAME) : int(b / FRAME)] = level
    return prob


def test_speech_regions_keep_a_quiet_short_answer_and_split_at_pauses():
    # a long turn, a 0.5 s pause, a short answer Silero is only 38 % sure of, a 0.08 s dip inside a turn
    prob = probabilities([(1.0, 4.0, 0.9), (4.5, 4.85, 0.38), (6.0, 7.0, 0.8), (7.08, 8.0, 0.8)], 10.0)
    regions = speech_regions(prob, 10.0)
    assert len(regions) == 3
    (a0, b0), (a1, b1), (a2, b2) = regions
    assert a0 == pytest.approx(0.9, abs=0.05) and b0 == pytest.approx(4.1, abs=0.05)
    assert 4.3 < a1 < 4.5 and 4.85 < b1 < 5.0  # the short answer, padded
    assert a2 == pytest.approx(5.9, abs=0.05) and b2 == pytest.approx(8.1, abs=0.05)  # the dip does not split
    assert speech_regions(probabilities([(1.0, 1.05, 0.9)], 3.0), 3.0) == []  # a click is not speech
    assert speech_regions(probabilities([], 3.0), 3.0) == []


def test_window_stats_are_the_mean_and_unbiased_deviation():
    rng = np.random.default_rng(0)
    frames = rng.normal(size=(50, 4))
    got = window_stats(frames, [(0, 50), (10, 20), (48, 60)])
    for row, (a, b) in zip(got, [(0, 50), (10, 20), (48, 50)], strict=True):
        expect = np.concatenate([frames[a:b].mean(0), frames[a:b].std(0, ddof=1)])
        assert np.allclose(row, expect)


def _voices(rng: np.random.Generator, dim: int = 16) -> tuple[np.ndarray, np.ndarray]:
    a = rng.normal(size=dim)
    b = a + 1.5 * rng.normal(size=dim)  # two voices, not orthogonal: the same phone line
    return a / np.linalg.norm(a), b / np.linalg.norm(b)


def test_two_centroids_find_the_speakers_and_leave_a_click_out():
    rng = np.random.default_rng(1)
    agent, customer = _voices(rng)
    embeddings = [agent + 0.2 * rng.normal(size=16) for _ in range(30)]
    embeddings += [customer + 0.2 * rng.normal(size=16) for _ in range(12)]
    embeddings.append(rng.normal(size=16) * 3)  # a click: a cluster of its own
    weights = np.array([4.0] * 30 + [0.8] * 12 + [0.2])  # the agent talks most, the customer answers briefly
    c = two_centroids(np.stack(embeddings), weights)
    sides = sorted(np.argmax(np.stack([agent, customer]) @ c.T, axis=1).tolist())
    assert sides == [0, 1]  # one centroid per speaker
    labels = np.argmax(np.stack(embeddings[:42]) / np.linalg.norm(embeddings[:42], axis=1, keepdims=True) @ c.T, 1)
    assert len(set(labels[:30].tolist())) == 1 and len(set(labels[30:].tolist())) == 1 and labels[0] != labels[30]


def test_a_region_changes_speaker_only_when_its_windows_say_so_clearly_and_long_enough():
    rng = np.random.default_rng(2)
    a, b = _voices(rng)
    centroids = np.stack([a, b])
    p = Params()

    def windows(voices: list[np.ndarray], start: float = 0.0) -> list[tuple[float, float, np.ndarray]]:
        return [(start + k * p.step_s, start + k * p.step_s + p.window_s, v) for k, v in enumerate(voices)]

    # 6 s: the agent, then the customer answers for the last 2.5 s without a pause
    voices = [a] * 6 + [b] * 4
    turn = Region(0.0, 6.0, a, windows(voices))
    pieces = label_region(turn, centroids, p)
    assert [who for _, _, who in pieces] == [0, 1]
    assert 3.0 < pieces[0][1] < 4.5
    # one stray window in the middle is not a change of speaker
    stray = Region(0.0, 6.0, a, windows([a] * 5 + [b] + [a] * 4))
    assert [who for _, _, who in label_region(stray, centroids, p)] == [0]
    # a short region has no windows: its own embedding decides
    assert label_region(Region(10.0, 10.6, b, []), centroids, p) == [(10.0, 10.6, 1)]


def test_a_speakers_pieces_close_together_are_one_turn():
    pieces = [(0.0, 2.0, 0), (2.5, 4.0, 0), (4.4, 4.8, 1), (5.2, 7.0, 0), (9.0, 10.0, 0)]
    turns = join_turns(pieces, gap=1.0)
    assert turns == {0: [(0.0, 4.0), (5.2, 7.0), (9.0, 10.0)], 1: [(4.4, 4.8)]}


def test_thread_wait_policy():
    assert runtime.wait_policy("spin") == "spin" and runtime.wait_policy("passive") == "passive"
    assert runtime.wait_policy("auto", concurrency=2) == "passive"  # calls in parallel share the cores
    assert runtime.wait_policy("auto") in ("spin", "passive")
    with pytest.raises(ValueError, match="thread_wait setting 'busy'"):
        runtime.wait_policy("busy")


def test_thread_wait_respects_the_users_own_openmp_settings(monkeypatch):
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")
    monkeypatch.delenv("GOMP_SPINCOUNT", raising=False)
    runtime.set_thread_wait("passive")
    assert "GOMP_SPINCOUNT" not in os.environ
    monkeypatch.delenv("OMP_WAIT_POLICY")
    runtime.set_thread_wait("passive")
    assert os.environ["OMP_WAIT_POLICY"] == "PASSIVE"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_allocator_settings_are_accepted_by_glibc():
    assert runtime.tune_allocator()


def test_models_are_built_in_a_thread_that_has_exited():
    built = runtime.in_own_thread(threading.current_thread)
    assert built is not threading.current_thread() and not built.is_alive()
    with pytest.raises(ZeroDivisionError):
        runtime.in_own_thread(lambda: 1 / 0)


def test_unknown_diarization_setting_is_refused():
    from pipelines.settings import PipelineSettings
    from pipelines.speakers import diarize

    with pytest.raises(ValueError, match="diarization setting 'magic'"):
        diarize(np.zeros(16000, dtype=np.float32), replace(PipelineSettings(), diarization="magic"))


def test_mono_fixture_is_split_into_its_two_speakers():
    from pipelines.audio import load_audio
    from pipelines.models import models_ready
    from pipelines.settings import PipelineSettings
    from pipelines.speakers import diarize

    if not models_ready():
        pytest.skip("models not fetched: run setup.sh")
    settings = PipelineSettings()
    assert settings.diarization == "fast"
    audio = load_audio(FIXTURES / "mono_issues.wav", settings)
    tracks = diarize(audio.mono, settings)
    assert [t.label for t in tracks] == ["SPEAKER_00", "SPEAKER_01"] and all(t.channel is None for t in tracks)
    truth = json.loads((FIXTURES / "mono_issues.truth.json").read_text(encoding="utf-8"))["segments"]
    # every true line lies mostly inside one speaker's turns, and each speaker holds one role's lines
    holder: dict[str, set[str]] = {"agent": set(), "customer": set()}
    for seg in truth:
        cover = {t.label: sum(max(0.0, min(b, seg["end"]) - max(a, seg["start"])) for a, b in t.turns) for t in tracks}
        label = max(cover, key=cover.get)
        assert cover[label] >= 0.8 * (seg["end"] - seg["start"]), seg
        holder[seg["speaker"]].add(label)
    assert len(holder["agent"]) == 1 and len(holder["customer"]) == 1 and holder["agent"] != holder["customer"]


def test_kaldi_filter_bank_in_numpy_is_torchaudios():
    """The features CAM++ is fed without torch are 3D-Speaker's (torchaudio's Kaldi filter bank)."""
    import torch
    import torchaudio.compliance.kaldi as kaldi

    from pipelines.campplus_onnx import MEL_BINS, fbank

    rng = np.random.default_rng(7)
    for n in (399, 400, 401, 4_800, 48_000):
        x = (rng.standard_normal(n) * 0.1).astype(np.float32)
        ours = fbank(x)
        if n < 400:
            assert ours.shape == (0, MEL_BINS)
            continue
        theirs = kaldi.fbank(torch.from_numpy(x)[None], num_mel_bins=MEL_BINS, sample_frequency=16000,
                             dither=0.0).numpy()
        assert ours.shape == theirs.shape
        assert np.abs(ours - theirs).max() < 5e-3  # log energies of float32 arithmetic done in another order


def test_campplus_on_onnx_runtime_gives_torchs_frames_and_embeddings(tmp_path):
    """The exported graphs give the torch network's frame features and embeddings, and the diarisation
    of the mono fixture is the same on either."""
    from pipelines.audio import load_audio
    from pipelines.campplus_onnx import CampPlusOnnx, export, graph_paths
    from pipelines.diarization import embedding_weights
    from pipelines.models import models_ready
    from pipelines.settings import PipelineSettings
    from pipelines.two_speakers import CampPlus, diarize, embed_regions

    if not models_ready():
        pytest.skip("models not fetched: run setup.sh")
    settings = PipelineSettings()
    weights = embedding_weights(settings.diarization_config)
    trunk, dense = graph_paths(weights, tmp_path)
    export(weights, trunk, dense)
    assert trunk.is_file() and dense.is_file() and not list(tmp_path.glob(".*.tmp"))
    on_onnx, on_torch = CampPlusOnnx(trunk, dense), CampPlus(weights)
    audio = load_audio(FIXTURES / "mono_issues.wav", settings)
    clip = audio.mono[16000:16000 * 5]
    a, b = on_onnx.frames(clip), on_torch.frames(clip)
    assert a.shape == b.shape and np.abs(a - b).max() < 0.05 * np.abs(b).max()
    regions = [(1.0, 4.0), (6.0, 9.5)]
    ea = np.stack([r.embedding for r in embed_regions(on_onnx, audio.mono, regions)])
    eb = np.stack([r.embedding for r in embed_regions(on_torch, audio.mono, regions)])
    cosine = (ea * eb).sum(1) / np.linalg.norm(ea, axis=1) / np.linalg.norm(eb, axis=1)
    assert (cosine > 0.999).all()
    assert diarize(audio.mono, weights, model=on_onnx) == diarize(audio.mono, weights, model=on_torch)


def test_blas_runs_on_one_thread_only_while_campplus_runs(monkeypatch):
    """CAM++ gets the cores (one OpenBLAS thread), and the recogniser's features keep the BLAS they had."""
    from threadpoolctl import threadpool_info

    from pipelines.two_speakers import one_blas_thread

    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)

    def blas_threads() -> list[int]:
        return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]

    before = blas_threads()
    with one_blas_thread():
        assert blas_threads() and set(blas_threads()) == {1}
    assert blas_threads() == before
