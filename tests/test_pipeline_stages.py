"""Pipeline stages that need no model: validation, metadata, storage, roles, time mapping, filters."""

import json
import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from callqa.model import AudioMeasures, Transcript
from pipelines.audio import SAMPLE_RATE, AudioError, load_audio
from pipelines.manifest import ManifestError, call_meta, from_filename, read_manifest
from pipelines.roles import assign_roles
from pipelines.settings import PipelineSettings
from pipelines.speakers import Track, is_dual_mono, to_call_time, track_audio
from pipelines.transcribe import collapse_repeats, echoes_prompt, heard_in, is_hallucination
from qa_checks import load_lexicon
from results.files import write_json_atomic
from results.store import ResultStore, latest_calls

SETTINGS = PipelineSettings()


def tone(seconds, rate=8000, channels=1, level=0.3):
    t = np.arange(int(seconds * rate)) / rate
    x = (level * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    return np.stack([x * (1 - 0.5 * c) for c in range(channels)], axis=1) if channels > 1 else x


def test_stereo_8k_is_resampled_and_channels_kept(tmp_path):
    p = tmp_path / "call.wav"
    sf.write(p, tone(2.0, channels=2), 8000)
    audio = load_audio(p, SETTINGS)
    assert audio.samples.shape == (2, 2 * SAMPLE_RATE)
    assert audio.info.sample_rate == 8000 and audio.info.channels == 2 and len(audio.info.sha256) == 64


def test_compressed_formats_decode(tmp_path):
    for name, kwargs in (("call.flac", {}), ("call.ogg", {"format": "OGG", "subtype": "VORBIS"}),
                         ("call.mp3", {"format": "MP3", "subtype": "MPEG_LAYER_III"})):
        p = tmp_path / name
        sf.write(p, tone(2.0, rate=16000), 16000, **kwargs)
        assert abs(load_audio(p, SETTINGS).info.duration - 2.0) < 0.1, name


@pytest.mark.parametrize(("make", "message"), [
    (lambda p: p.write_bytes(b""), "file is empty"),
    (lambda p: p.write_bytes(os.urandom(4096)), "cannot decode"),
    (lambda p: sf.write(p, np.zeros(8000 * 3, dtype=np.float32), 8000), "silent"),
    (lambda p: sf.write(p, tone(0.3), 8000), "too short"),
])
def test_bad_recordings_get_a_clear_reason(tmp_path, make, message):
    p = tmp_path / "bad.wav"
    make(p)
    with pytest.raises(AudioError, match=message):
        load_audio(p, SETTINGS)


def test_too_long_is_refused(tmp_path):
    p = tmp_path / "long.wav"
    sf.write(p, tone(3.0), 8000)
    with pytest.raises(AudioError, match="too long"):
        load_audio(p, PipelineSettings(max_duration_s=2.0))


def test_truncated_wav_is_a_failure(tmp_path):
    p = tmp_path / "cut.wav"
    sf.write(p, tone(4.0), 8000)
    p.write_bytes(p.read_bytes()[: 44 + 8000 * 2 * 2])  # header still says 4 s; 2 s of data remain
    with pytest.raises(AudioError, match=r"truncated: the header says 4.0 s, the file holds 2.0 s"):
        load_audio(p, SETTINGS)


def test_not_audio_by_type(tmp_path):
    p = tmp_path / "notes.txt"
    p.write_text("hello")
    with pytest.raises(AudioError, match="not an audio file type"):
        load_audio(p, SETTINGS)


def test_manifest_csv_and_filename_pattern(tmp_path):
    (tmp_path / "manifest.csv").write_text(
        "file,call_id,agent_id,team,started_at,questionnaire\n"
        "a.wav,C-1,A017,T3,2026-11-16T10:32:00+08:00,participating+universal\n", encoding="utf-8")
    manifest = read_manifest(tmp_path)
    meta = call_meta(tmp_path / "a.wav", manifest)
    assert (meta.call_id, meta.agent_id, meta.team, meta.questionnaire) == ("C-1", "A017", "T3", ["participating", "universal"])
    named = from_filename(tmp_path / "20261116T103200_A021_0042.wav")
    assert (named.agent_id, named.started_at, named.call_id) == ("A021", "2026-11-16T10:32:00", "20261116T103200_A021_0042")
    assert from_filename(tmp_path / "whatever.mp3").call_id == "whatever"


def test_manifest_json_and_errors(tmp_path):
    (tmp_path / "manifest.json").write_text(json.dumps([{"file": "b.wav", "agent_id": "A1"}]), encoding="utf-8")
    assert read_manifest(tmp_path)["b.wav"].call_id == "b"
    (tmp_path / "manifest.json").write_text(json.dumps([{"agent_id": "A1"}]), encoding="utf-8")
    with pytest.raises(ManifestError, match="no 'file'"):
        read_manifest(tmp_path)


def result(call_id, run_id, score=90.0):
    return {"call_id": call_id, "questionnaire": "traditional", "score": score, "passed": True,
            "dimensions": {"compliance": 100.0, "professionalism": 90.0, "customer_experience": 100.0},
            "findings": [{"rule": "forbidden.vague", "kind": "violation", "severity": "minor", "dimension": "professionalism",
                          "speaker": "agent", "start": 1.0, "end": 2.0, "evidence": "大概", "message": "m", "weight": 4.0}],
            "metrics": {"duration": 60.0}, "pipeline": {"run_id": run_id, "audio_sha256": "x", "settings": "s"}}


def test_tables_hold_each_scoring_once(tmp_path):
    store = ResultStore(tmp_path)
    store.save_call(Transcript("C-1", []), result("C-1", "r1"))
    assert store.sync_tables("r1") == 1
    assert store.sync_tables("r1") == 0  # nothing new: nothing added
    store.save_call(Transcript("C-2", []), result("C-2", "r2"))
    store.save_call(Transcript("C-1", []), result("C-1", "r2", score=70.0))  # re-scored
    assert store.sync_tables("r2") == 2
    calls = latest_calls(store.scan("calls")).collect().sort("call_id")
    assert calls["call_id"].to_list() == ["C-1", "C-2"] and calls["score"].to_list() == [70.0, 90.0]
    assert store.scan("findings").collect().height == 3


def test_a_transcript_is_current_for_its_audio_and_settings_a_result_for_its_transcript_and_lexicons(tmp_path):
    store = ResultStore(tmp_path)
    audio = AudioMeasures(60.0, 8000, 2, "stereo", sha256="x", settings="s")
    sha = store.save_transcript(Transcript("C-1", [], audio=audio))
    assert store.transcript_current("C-1", "x", "s")
    assert not store.transcript_current("C-1", "y", "s") and not store.transcript_current("C-1", "x", "t")
    assert not store.transcript_current("C-9", "x", "s")
    key = {"transcript_sha256": sha, "lexicon_fingerprint": "L1", "engine_version": "E1"}
    store.save_result("C-1", {"call_id": "C-1", "scoring": dict(key, run_id="r1")})
    assert store.result_current("C-1", key)
    assert not store.result_current("C-1", dict(key, lexicon_fingerprint="L2"))
    assert not store.result_current("C-1", dict(key, transcript_sha256="other"))
    assert store.read_transcript("C-1")[1] == sha


def test_leftovers_of_a_killed_run_are_removed(tmp_path):
    store = ResultStore(tmp_path)
    (tmp_path / "results" / ".C-9.json.abc.tmp").write_text("{half")
    (tmp_path / "tables" / ".run-r9-abc.tmp").mkdir()
    (tmp_path / ".run-r9.json.abc.tmp").write_text("{half")
    store.clean_leftovers()  # as a run does before it starts
    assert not list(tmp_path.rglob(".*.tmp"))
    write_json_atomic(tmp_path / "results" / "C-3.json", {"ok": 1})
    assert json.loads((tmp_path / "results" / "C-3.json").read_text()) == {"ok": 1}
    assert (tmp_path / "results" / "C-3.json").stat().st_mode & 0o077 == 0  # owner-only
    assert store.scan("calls").collect().height == 0


def test_roles_from_what_is_said():
    lex = load_lexicon()
    roles = assign_roles({
        "channel_0": ["嗯,是我。", "收到了。", "清楚。"],
        "channel_1": ["您好,我是平安人寿回访专员李娜,工号二三一四,今天给您做个电话回访,请问您是王先生吗?",
                      "请问您收到保险合同了吗?", "好的,谢谢您,再见。"],
    }, lex)
    assert roles.agent == "channel_1" and roles.confidence > 0.9 and roles.method == "text"
    guess = assign_roles({"a": ["嗯"], "b": ["哦 行"]}, lex)
    assert guess.confidence == 0.5 and guess.method == "most_speech"


def test_diarised_turns_map_back_to_call_time():
    from pipelines.audio import AudioInfo, LoadedAudio

    mono = np.arange(10 * SAMPLE_RATE, dtype=np.float32)
    audio = LoadedAudio(AudioInfo("x", "h", "wav", 16000, 1, 10.0, 0.0, 0.0), mono[None, :])
    samples, offsets = track_audio(audio, Track("S1", None, ((1.0, 2.0), (5.0, 6.5))), gap=0.5)
    assert len(samples) == int((1.0 + 0.5 + 1.5 + 0.5) * SAMPLE_RATE)
    assert to_call_time(0.5, offsets) == pytest.approx(1.5)
    assert to_call_time(1.6, offsets) == pytest.approx(5.1)
    assert is_dual_mono(np.stack([mono, mono])) and not is_dual_mono(np.stack([mono, -mono * 0.2 + 3]))


def test_recogniser_output_filters():
    assert is_hallucination("字幕由Amara.org社区提供", 0.1, -0.2, 1.2)
    assert is_hallucination("请问您收到合同了吗", 0.1, -0.2, 3.0)  # repetition loops compress too well
    assert not is_hallucination("请问您收到合同了吗", 0.1, -0.2, 1.3)
    assert collapse_repeats("好的好的好的好的好的") == "好的"
    prompted = PipelineSettings(initial_prompt="以下是保险回访录音。犹豫期、亲笔签名。", hotwords="产品说明书 责任免除")
    assert echoes_prompt("产品说明书 责任免除", prompted) and echoes_prompt("亲笔", prompted)
    assert not echoes_prompt("请问您看过产品说明书吗", prompted) and not echoes_prompt("亲笔", SETTINGS)


def test_a_segment_dropped_as_invented_leaves_its_span_unheard_for_the_second_look():
    from faster_whisper.transcribe import Segment, Word

    def segment(text: str, ratio: float) -> Segment:
        words = [Word(start=10.0 + i * 0.5, end=10.4 + i * 0.5, word=c, probability=0.3) for i, c in enumerate(text)]
        return Segment(id=0, seek=0, start=10.0, end=10.0 + len(text) * 0.5, text=text, tokens=[],
                       avg_logprob=-0.4, compression_ratio=ratio, no_speech_prob=0.1, words=words, temperature=0.0)

    on = PipelineSettings()
    assert heard_in(segment("尔" * 40, 4.0), on) == []  # a loop: dropped, so its minute is looked at again
    assert heard_in(segment("尔" * 40, 4.0), PipelineSettings(hallucination_filter=False))[0] == (10.0, 10.4)
    spans = heard_in(segment("收到了", 1.1), on)
    assert spans == [(10.0, 10.4), (10.5, 10.9), (11.0, 11.4)]


@pytest.mark.parametrize("n", [0, 1, 399, 400, 401, 800, 801, 1201, 48_017])
def test_frame_levels_are_librosas_rms(n):
    """The loudness frames (silences, edge snapping, loudness findings) are librosa's centred RMS frames,
    computed without it: same count, same levels to a hundred-thousandth of a dB."""
    import librosa

    from pipelines.measures import FRAME, HOP, frame_times, rms_db

    x = (np.random.default_rng(n).standard_normal(n) * 0.1).astype(np.float32)
    x[: n // 3] = 0.0  # silence, where the floor of 1e-6 applies
    ours = rms_db(x)
    theirs = 20 * np.log10(np.maximum(librosa.feature.rms(y=x, frame_length=FRAME, hop_length=HOP)[0], 1e-6))
    assert ours.shape == theirs.shape
    assert np.abs(ours - theirs).max() < 1e-4
    assert np.allclose(frame_times(len(ours)), librosa.frames_to_time(np.arange(len(ours)), sr=SAMPLE_RATE,
                                                                       hop_length=HOP))


def test_batched_recognition_is_a_setting_that_gives_timed_words(tmp_path):
    """batch_size > 0 decodes a track's chunks together (faster-whisper's batched pipeline): words still
    come with times inside the track, in call time, and the setting changes the transcript's fingerprint."""
    from dataclasses import replace

    from pipelines.models import models_ready
    from pipelines.transcribe import transcribe

    if not models_ready():
        pytest.skip("models not fetched: run setup.sh")
    audio = load_audio(Path(__file__).resolve().parents[1] / "audio_fixtures" / "stereo_clean.wav", SETTINGS)
    samples = audio.samples[0][: 20 * SAMPLE_RATE]
    batched = replace(SETTINGS, batch_size=4)
    assert batched.fingerprint() != SETTINGS.fingerprint()
    utterances = list(transcribe(samples, [(0.0, 20.0, 100.0)], batched))  # the track starts at 100 s of the call
    assert utterances and all(u.words for u in utterances)
    assert all(100.0 <= w.start <= w.end <= 120.5 for u in utterances for w in u.words)
    assert any("\u4e00" <= ch <= "\u9fff" for u in utterances for ch in u.text)
