"""Stage 1: load and validate a recording.

Telephone recordings arrive as wav, mp3, m4a, amr…, 8 or 16 kHz, mono or stereo. They are decoded to
16 kHz float32 with their channels kept apart (stereo is how call centres separate agent and
customer), checked for the ways recordings go wrong (empty, corrupt, truncated, silent, absurdly long,
clipped), and fingerprinted by content so that caches survive renames.

Memory stays near the size of what is kept, whatever the file: the header is read first and a
recording over the length limits is refused before anything is decoded; then the file is decoded a
block at a time, only the first two channels are kept, and each block is resampled to 16 kHz as it
streams (soxr's streaming resampler, the same filter and bit for bit the same output as resampling the
whole recording at once) into an array sized from the header. An 8-channel 96 kHz file never exists in
memory at its own rate and width. The checks (finite samples, level, clipping) are summed block by
block on the way.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
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


class _Header:
    """What a recording says about itself before any sample is decoded."""

    def __init__(self, decoder: str, fmt: str, rate: int, channels: int, frames: int | None,
                 declared_frames: int | None = None):
        self.decoder = decoder  # "soundfile" or "av"
        self.format = fmt
        self.rate = rate
        self.channels = channels
        self.frames = frames  # None when the container does not say (some mp3, amr)
        # frames the file promises but may not hold (a WAV's data chunk size, a FLAC's sample count)
        self.declared_frames = declared_frames

    @property
    def duration(self) -> float | None:
        frames = self.declared_frames if self.declared_frames is not None else self.frames
        return frames / self.rate if frames is not None and self.rate > 0 else None


_WIDTH = {"PCM_16": 2, "PCM_24": 3, "PCM_32": 4, "FLOAT": 4, "DOUBLE": 8, "PCM_U8": 1, "PCM_S8": 1}


def _wav_declared_bytes(path: Path) -> int | None:
    """The size the WAV header promises for its audio data (libsndfile silently trusts the file size).
    None when there is no such promise (not a WAV, or the 'unknown length' marks of streamed WAVs)."""
    with path.open("rb") as fh:
        head = fh.read(1 << 16)
    if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return None
    pos = 12
    while pos + 8 <= len(head):
        chunk, size = head[pos : pos + 4], int.from_bytes(head[pos + 4 : pos + 8], "little")
        if chunk == b"data":
            return size if 0 < size < 0xFFFFFFFF else None
        pos += 8 + size + (size & 1)
    return None


def _header(path: Path) -> _Header:
    """The recording's rate, channels and length from its header (soundfile, else PyAV's probe)."""
    try:
        info = sf.info(str(path))
    except Exception:
        return _av_header(path)
    if info.subtype == "OPUS":  # libsndfile shifts Opus by a few samples at each block read: FFmpeg decodes it
        return _av_header(path)
    declared = None
    if info.format == "WAV" and info.subtype in _WIDTH and info.channels > 0:
        promised = _wav_declared_bytes(path)
        if promised is not None:
            declared = promised // (_WIDTH[info.subtype] * info.channels)
    return _Header("soundfile", info.format.lower(), int(info.samplerate), int(info.channels), int(info.frames),
                   declared)


def _av_header(path: Path) -> _Header:
    import av

    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            if not container.streams.audio:
                raise AudioError("cannot decode: no audio stream in the file")
            stream = container.streams.audio[0]
            rate = int(stream.codec_context.sample_rate or 0)
            channels = int(stream.codec_context.channels or 0)
            seconds = None
            if stream.duration is not None and stream.time_base is not None:
                seconds = float(stream.duration * stream.time_base)
            elif container.duration:
                seconds = container.duration / 1_000_000
            frames = round(seconds * rate) if seconds is not None and rate > 0 else None
            return _Header("av", container.format.name, rate, channels, frames)
    except av.error.FFmpegError as exc:
        raise AudioError(f"cannot decode: {getattr(exc, 'strerror', None) or exc}") from None


def probe_duration(path: Path) -> float:
    """Duration from the header only (for progress and ETA); 0 when it cannot be read."""
    try:
        return _header(Path(path)).duration or 0.0
    except Exception:
        return 0.0


def recording_problem(path: Path) -> str | None:
    """Why a path is not a recording to decode, before anything opens it (a pipe would never end)."""
    from callqa.walk import link_problem

    problem = link_problem(path)
    if problem is not None:
        return problem
    if not path.exists():
        return "file not found"
    if not path.is_file():
        return "a folder" if path.is_dir() else "not a regular file"
    return None


def probe_channels(path: Path) -> int:
    """Channels from the header only; 0 when it cannot be read."""
    try:
        return _header(Path(path)).channels
    except Exception:
        return 0


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _dbfs_of(peak: float) -> float:
    return 20 * float(np.log10(peak)) if peak > 0 else -120.0


MAX_RATE = 384_000  # Hz; beyond any recorder, and soxr's and the decoders' arithmetic
BLOCK_FRAMES = 1 << 16  # frames decoded at once: 2 MB for 8 channels of float32


class _Stream:
    """Blocks of (frames, ≤2 channels) float32 at the recording's rate, in order, to 16 kHz.

    Sums on the way what validation needs (finite, peak, the loudest whole second, clipping) and
    refuses a recording that turns out longer than the limit while it is decoded."""

    def __init__(self, rate: int, channels: int, expected_frames: int | None, max_frames: int):
        self.rate = rate
        self.channels = channels
        self.max_frames = max_frames
        self.frames = 0
        self.finite = True
        self.peak = 0.0
        self.peak_whole_seconds = 0.0  # peak over the seconds completed so far
        self.peak_open_second = 0.0  # peak since the last whole-second mark
        self.clipped = 0
        self._resampler = None
        if rate != SAMPLE_RATE:
            import soxr

            # quality HQ: the soxr_hq filter librosa.resample used to apply to the whole recording
            self._resampler = soxr.ResampleStream(rate, SAMPLE_RATE, channels, dtype="float32", quality="HQ")
        # (channels, n) as the stages read it, sized from the header: filled in place, never copied whole
        size = self.out_frames(expected_frames) if expected_frames else 0
        self._out = np.empty((channels, size), dtype=np.float32)
        self._filled = 0
        self._overflow: list[np.ndarray] = []

    def out_frames(self, frames: int) -> int:
        return math.ceil(frames * SAMPLE_RATE / self.rate)

    def add(self, block: np.ndarray) -> None:
        """One block of (frames, channels) float32, already cut to the channels kept."""
        n = block.shape[0]
        if n == 0:
            return
        if self.frames + n > self.max_frames:
            raise AudioError(f"too long: more than {self.max_frames / self.rate / 3600:g} h of audio in the file")
        if self.finite and not np.isfinite(block).all():
            self.finite = False
        if self.finite:
            magnitude = np.abs(block)
            per_frame = magnitude.max(axis=1)
            self.peak = max(self.peak, float(per_frame.max()))
            self.clipped += int(np.count_nonzero(magnitude >= 0.999))
            # the last whole-second mark inside this block splits it into completed and open seconds
            mark = (self.frames + n) // self.rate * self.rate - self.frames
            if mark > 0:
                self.peak_whole_seconds = max(self.peak_whole_seconds, self.peak_open_second,
                                              float(per_frame[:mark].max()))
                self.peak_open_second = float(per_frame[mark:].max()) if mark < n else 0.0
            else:
                self.peak_open_second = max(self.peak_open_second, float(per_frame.max()))
        self.frames += n
        self._emit(block if self._resampler is None else self._resampler.resample_chunk(block, last=False))

    def _emit(self, out: np.ndarray) -> None:
        """Resampled (frames, channels) into the (channels, n) array."""
        n = out.shape[0]
        take = min(n, self._out.shape[1] - self._filled)
        self._out[:, self._filled : self._filled + take] = out[:take].T
        self._filled += take
        if take < n:  # more than the header said: kept aside, joined at the end
            self._overflow.append(np.ascontiguousarray(out[take:].T))

    def finish(self) -> np.ndarray:
        """(channels, n) at 16 kHz, n = ceil(frames × 16000 / rate) as librosa.resample(fix=True) gives."""
        if self._resampler is not None:
            self._emit(self._resampler.resample_chunk(np.zeros((0, self.channels), dtype=np.float32), last=True))
        want = self.out_frames(self.frames)
        if self._overflow:
            out = np.concatenate([self._out[:, : self._filled], *self._overflow], axis=1)[:, :want]
        elif self._filled >= want:
            out = self._out[:, :want]  # each channel's row stays one contiguous run of memory
        elif self._out.shape[1] >= want:
            self._out[:, self._filled : want] = 0.0
            out = self._out[:, :want]
        else:
            out = np.concatenate([self._out[:, : self._filled],
                                  np.zeros((self.channels, want - self._filled), dtype=np.float32)], axis=1)
        return np.concatenate([out, np.zeros((self.channels, want - out.shape[1]), dtype=np.float32)], axis=1) \
            if out.shape[1] < want else out

    @property
    def loudest_dbfs(self) -> float:
        """The loudest whole second (the whole recording when it is shorter than one)."""
        if self.frames < self.rate:
            return _dbfs_of(self.peak)
        return _dbfs_of(self.peak_whole_seconds)


def _decode_soundfile(path: Path, stream_for: Callable[[int, int, int | None], _Stream]) -> tuple[_Stream, str]:
    with sf.SoundFile(str(path)) as f:
        stream = stream_for(f.samplerate, f.channels, f.frames)
        kept = min(f.channels, 2)
        for block in f.blocks(blocksize=BLOCK_FRAMES, dtype="float32", always_2d=True):
            stream.add(np.ascontiguousarray(block[:, :kept]))
        return stream, f.format.lower()


def _decode_av(path: Path, stream_for: Callable[[int, int, int | None], _Stream],
               expected: int | None) -> tuple[_Stream, str]:
    import av  # PyAV, bundled with faster-whisper: mp3, m4a, amr and the rest of FFmpeg's decoders

    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            if not container.streams.audio:
                raise AudioError("cannot decode: no audio stream in the file")
            source = container.streams.audio[0]
            channels = source.codec_context.channels or 1
            rate = source.codec_context.sample_rate or SAMPLE_RATE
            # mono and stereo as they are; more channels keep their layout and the first two are taken
            layout = "stereo" if channels == 2 else "mono" if channels == 1 else None
            resampler = av.AudioResampler(format="fltp", layout=layout, rate=rate)
            stream = stream_for(rate, channels, expected)
            kept = min(channels, 2)

            def add(frames: list) -> None:  # type: ignore[type-arg]
                for out in frames:
                    stream.add(np.ascontiguousarray(out.to_ndarray()[:kept].T, dtype=np.float32))

            for frame in container.decode(source):
                add(resampler.resample(frame))
            add(resampler.resample(None))
            fmt = container.format.name
    except av.error.FFmpegError as exc:
        raise AudioError(f"cannot decode: {getattr(exc, 'strerror', None) or exc}") from None
    if stream.frames == 0:
        raise AudioError("no audio frames could be decoded")
    return stream, fmt


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
    header = _header(p)
    if not 0 < header.rate <= MAX_RATE:
        raise AudioError(f"sample rate {header.rate} Hz in the header: not a recording callqa reads")
    if header.channels < 1:
        raise AudioError("no audio channels in the header")
    if header.duration is not None:  # refused before anything is decoded
        _check_length(header.duration, settings, " according to its header")
    warnings: list[str] = []
    if header.channels > 2:
        warnings.append(f"{header.channels} channels: only the first two are used")

    def stream_for(rate: int, channels: int, expected: int | None) -> _Stream:
        return _Stream(rate, min(channels, 2), expected, max(1, int(settings.max_duration_s * rate) + 1))

    if header.decoder == "soundfile":
        try:
            stream, fmt = _decode_soundfile(p, stream_for)
        except (sf.LibsndfileError, RuntimeError):  # a damaged block: FFmpeg's decoders may still read it
            stream, fmt = _decode_av(p, stream_for, header.frames)
    else:
        stream, fmt = _decode_av(p, stream_for, header.frames)
    rate = stream.rate
    if stream.frames == 0:
        raise AudioError("no audio samples (truncated or header only)")
    duration = stream.frames / rate
    if header.declared_frames and stream.frames < header.declared_frames * 0.99:
        raise AudioError(f"truncated: the header says {header.declared_frames / rate:.1f} s, the file holds "
                         f"{duration:.1f} s (an interrupted copy or recording); not scored")
    _check_length(duration, settings, "")
    if not stream.finite:
        raise AudioError("corrupt samples (NaN or infinite values)")
    peak = _dbfs_of(stream.peak)
    if stream.loudest_dbfs < settings.silence_dbfs:  # silent: no second rises above the silence level
        raise AudioError(f"silent: peak level {peak:.0f} dBFS, below {settings.silence_dbfs:g} dBFS")
    clipped = stream.clipped / (stream.frames * stream.channels)
    if clipped > 0.001:
        warnings.append(f"clipping: {clipped:.1%} of samples at full scale")
    info = AudioInfo(
        path=str(p), sha256=sha256 or file_sha256(p), format=fmt, sample_rate=int(rate), channels=stream.channels,
        duration=round(duration, 3), peak_dbfs=round(peak, 1), clipped_fraction=round(clipped, 5),
        warnings=tuple(warnings),
    )
    return LoadedAudio(info, stream.finish())


def _check_length(duration: float, settings: PipelineSettings, source: str) -> None:
    if duration < settings.min_duration_s:
        raise AudioError(f"too short: {duration:.2f} s{source} (minimum {settings.min_duration_s:g} s)")
    if duration > settings.max_duration_s:
        raise AudioError(f"too long: {duration / 3600:.1f} h{source} (limit {settings.max_duration_s / 3600:g} h)")
