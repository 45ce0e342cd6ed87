"""Stage 1: load and validate a recording.

Telephone recordings arrive as wav, mp3, m4a, amr…, 8 or 16 kHz, mono or stereo. They are decoded to
16 kHz float32 with their channels kept apart (stereo is how call centres separate agent and
customer), checked for the ways recordings go wrong (empty, corrupt, truncated, silent, absurdly long,
clipped), and fingerprinted by content so that caches survive renames.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf

from .settings import PipelineSettings

SAMPLE_RATE = 16000
AUDIO_SUFFIXES = {".wav", ".flac", ".ogg", ".mp3", ".m4a", ".aac", ".amr", ".opus", ".wma", ".webm", ".mp4"}


class AudioError(Exception):
    """A recording that cannot be used; the message says why, for the run report."""


@dataclass(frozen=True)
class AudioInfo:
    path: str
    sha256: str
    format: str
    sample_rate: int  # as recorded
    channels: int
    duration: float
    peak_dbfs: float
    clipped_fraction: float
    warnings: tuple[str, ...] = ()


@dataclass
class LoadedAudio:
    info: AudioInfo
    samples: np.ndarray  # (channels, n) float32 at SAMPLE_RATE
    # per-recording values derived once and shared by the stages (frame levels: pipelines.measures)
    derived: dict[str, object] = field(default_factory=dict)

    @property
    def mono(self) -> np.ndarray:
        return self.samples.mean(axis=0) if self.samples.shape[0] > 1 else self.samples[0]


def probe_duration(path: Path) -> float:
    """Duration from the header only (for progress and ETA); 0 when it cannot be read."""
    try:
        return float(sf.info(str(path)).duration)
    except Exception:
        pass
    try:
        import av

        with av.open(str(path)) as c:
            return float(c.duration or 0) / 1_000_000
    except Exception:
        return 0.0


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _dbfs(x: np.ndarray) -> float:
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    return 20 * np.log10(peak) if peak > 0 else -120.0


def _wav_declared_bytes(path: Path) -> int | None:
    """The size the WAV header promises for its audio data (libsndfile silently trusts the file size)."""
    with path.open("rb") as fh:
        head = fh.read(1 << 16)
    if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return None
    pos = 12
    while pos + 8 <= len(head):
        chunk, size = head[pos : pos + 4], int.from_bytes(head[pos + 4 : pos + 8], "little")
        if chunk == b"data":
            return size
        pos += 8 + size + (size & 1)
    return None


def _decode_soundfile(path: Path) -> tuple[np.ndarray, int, str, list[str]]:
    warnings = []
    with sf.SoundFile(str(path)) as f:
        data = f.read(dtype="float32", always_2d=True)
        rate, fmt, channels = f.samplerate, f.format, f.channels
        width = {"PCM_16": 2, "PCM_24": 3, "PCM_32": 4, "FLOAT": 4, "DOUBLE": 8, "PCM_U8": 1}.get(f.subtype)
    declared = _wav_declared_bytes(path) if fmt == "WAV" else None
    if declared and width:
        promised = declared / (width * channels)
        if len(data) < promised * 0.99:
            warnings.append(f"truncated: header says {promised / rate:.1f} s, only {len(data) / rate:.1f} s in the file")
    return data.T, rate, fmt.lower(), warnings


def _decode_av(path: Path) -> tuple[np.ndarray, int, str]:
    import av  # PyAV, bundled with faster-whisper: mp3, m4a, amr and the rest of FFmpeg's decoders

    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            if not container.streams.audio:
                raise AudioError("no audio stream in the file")
            stream = container.streams.audio[0]
            channels = stream.codec_context.channels or 1
            rate = stream.codec_context.sample_rate or SAMPLE_RATE
            layout = "stereo" if channels >= 2 else "mono"
            resampler = av.AudioResampler(format="fltp", layout=layout, rate=rate)
            chunks = []
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray())
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray())
            fmt = container.format.name
    except av.error.FFmpegError as exc:
        raise AudioError(f"cannot decode: {exc}") from None
    if not chunks:
        raise AudioError("no audio frames could be decoded")
    return np.concatenate(chunks, axis=1).astype(np.float32), rate, fmt


def _resample(x: np.ndarray, rate: int) -> np.ndarray:
    if rate == SAMPLE_RATE:
        return x
    import librosa

    return librosa.resample(x, orig_sr=rate, target_sr=SAMPLE_RATE, res_type="soxr_hq").astype(np.float32)


def load_audio(path: str | Path, settings: PipelineSettings, sha256: str | None = None) -> LoadedAudio:
    """Decode and validate; raises AudioError with a reason a QA team can act on.

    `sha256` is the file's content hash when the caller has it already (it is the cache key).
    """
    p = Path(path)
    if not p.is_file():
        raise AudioError("file not found")
    size = p.stat().st_size
    if size == 0:
        raise AudioError("file is empty (0 bytes)")
    if p.suffix.lower() not in AUDIO_SUFFIXES:
        raise AudioError(f"not an audio file type callqa reads ({p.suffix or 'no extension'})")
    warnings: list[str] = []
    try:
        data, rate, fmt, warnings = _decode_soundfile(p)
    except (sf.LibsndfileError, RuntimeError):
        data, rate, fmt = _decode_av(p)
    if data.shape[1] == 0:
        raise AudioError("no audio samples (truncated or header only)")
    if data.shape[0] > 2:
        warnings.append(f"{data.shape[0]} channels: only the first two are used")
        data = data[:2]
    duration = data.shape[1] / rate
    if duration < settings.min_duration_s:
        raise AudioError(f"too short: {duration:.2f} s (minimum {settings.min_duration_s:g} s)")
    if duration > settings.max_duration_s:
        raise AudioError(f"too long: {duration / 3600:.1f} h (limit {settings.max_duration_s / 3600:g} h)")
    if not np.isfinite(data).all():
        raise AudioError("corrupt samples (NaN or infinite values)")
    peak = _dbfs(data)
    # silent: no second of the recording rises above the silence level
    second = max(1, rate)
    n = data.shape[1] // second * second
    loudest = max((_dbfs(data[:, i : i + second]) for i in range(0, max(n, second), second)), default=-120.0)
    if loudest < settings.silence_dbfs:
        raise AudioError(f"silent: peak level {peak:.0f} dBFS, below {settings.silence_dbfs:g} dBFS")
    clipped = float(np.mean(np.abs(data) >= 0.999))
    if clipped > 0.001:
        warnings.append(f"clipping: {clipped:.1%} of samples at full scale")
    info = AudioInfo(
        path=str(p), sha256=sha256 or file_sha256(p), format=fmt, sample_rate=int(rate), channels=int(data.shape[0]),
        duration=round(duration, 3), peak_dbfs=round(peak, 1), clipped_fraction=round(clipped, 5),
        warnings=tuple(warnings),
    )
    return LoadedAudio(info, _resample(data, rate))
