"""Loading a recording: the header is read first and what breaks the limits is refused before decoding;
only two channels are kept and resampled as they stream, with the same samples as resampling the whole
recording at once; a truncated recording is a failure, never scored."""

from __future__ import annotations

import math

import librosa
import numpy as np
import pytest
import soundfile as sf

from pipelines.audio import SAMPLE_RATE, AudioError, load_audio, probe_duration
from pipelines.settings import PipelineSettings

SETTINGS = PipelineSettings()


def noisy_tone(seconds: float, rate: int, channels: int) -> np.ndarray:
    rng = np.random.default_rng(rate + channels)
    t = np.arange(int(seconds * rate)) / rate
    return np.stack([0.3 * np.sin(2 * np.pi * (300 + 70 * c) * t) + 0.05 * rng.standard_normal(t.size)
                     for c in range(channels)], axis=1).astype(np.float32)


@pytest.mark.parametrize(("rate", "channels"), [(8000, 1), (8000, 2), (44100, 2), (96000, 8), (16000, 3)])
def test_streamed_samples_equal_resampling_the_whole_recording(tmp_path, rate, channels):
    p = tmp_path / "call.flac"
    sf.write(p, noisy_tone(9.3, rate, channels), rate, subtype="PCM_24")  # longer than one decoding block
    audio = load_audio(p, SETTINGS)
    whole, _ = sf.read(p, dtype="float32", always_2d=True)
    kept = whole.T[:2]
    expected = kept if rate == SAMPLE_RATE else librosa.resample(kept, orig_sr=rate, target_sr=SAMPLE_RATE,
                                                                  res_type="soxr_hq")
    assert audio.samples.shape == (min(channels, 2), math.ceil(kept.shape[1] * SAMPLE_RATE / rate))
    assert np.array_equal(audio.samples, expected.astype(np.float32))  # bit for bit
    assert audio.info.channels == min(channels, 2) and audio.info.sample_rate == rate
    assert audio.info.peak_dbfs == round(20 * math.log10(float(np.abs(kept).max())), 1)
    assert ("only the first two are used" in " ".join(audio.info.warnings)) == (channels > 2)


def test_a_recording_over_the_limit_is_refused_from_its_header(tmp_path):
    p = tmp_path / "long.flac"
    with sf.SoundFile(p, "w", samplerate=8000, channels=1, subtype="PCM_16") as f:  # 3 h of silence: tiny
        for _ in range(3 * 360):
            f.write(np.zeros(80000, dtype=np.float32))
    assert abs(probe_duration(p) - 3 * 3600) < 1
    with pytest.raises(AudioError, match=r"too long: 3.0 h according to its header \(limit 2 h\)"):
        load_audio(p, PipelineSettings(max_duration_s=2 * 3600))


def test_a_header_too_short_is_refused_before_decoding(tmp_path):
    p = tmp_path / "short.wav"
    sf.write(p, noisy_tone(0.4, 8000, 1), 8000)
    with pytest.raises(AudioError, match=r"too short: 0.40 s according to its header"):
        load_audio(p, SETTINGS)


@pytest.mark.parametrize("kept_fraction", [0.33, 0.9])
def test_a_truncated_wav_is_a_failure_naming_both_lengths(tmp_path, kept_fraction):
    p = tmp_path / "cut.wav"
    sf.write(p, noisy_tone(30.0, 8000, 2), 8000)
    data = p.read_bytes()
    keep = 44 + int((len(data) - 44) * kept_fraction) // 4 * 4
    p.write_bytes(data[:keep])
    with pytest.raises(AudioError, match=r"truncated: the header says 30.0 s, the file holds \d+\.\d s"):
        load_audio(p, SETTINGS)


def test_a_streamed_wav_without_a_length_is_not_called_truncated(tmp_path):
    p = tmp_path / "streamed.wav"
    sf.write(p, noisy_tone(3.0, 8000, 1), 8000)
    data = bytearray(p.read_bytes())
    at = data.index(b"data") + 4
    data[at : at + 4] = (0xFFFFFFFF).to_bytes(4, "little")  # a recorder that never wrote the length
    p.write_bytes(bytes(data))
    audio = load_audio(p, SETTINGS)
    assert abs(audio.info.duration - 3.0) < 0.01 and not audio.info.warnings


def test_a_silent_many_channel_file_is_called_silent(tmp_path):
    p = tmp_path / "silent8.flac"
    sf.write(p, np.full((96000 * 3, 8), 0.0003, dtype=np.float32), 96000)
    with pytest.raises(AudioError, match="silent"):
        load_audio(p, SETTINGS)


def test_bad_headers_are_named(tmp_path):
    p = tmp_path / "zero.wav"
    sf.write(p, noisy_tone(2.0, 8000, 1), 8000)
    data = bytearray(p.read_bytes())
    data[24:28] = (0).to_bytes(4, "little")  # sample rate 0
    p.write_bytes(bytes(data))
    with pytest.raises(AudioError):
        load_audio(p, SETTINGS)
