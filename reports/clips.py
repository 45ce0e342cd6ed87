"""Bad-example clips for trainers: one short audio clip per matching finding, with an index to listen through.

Each clip is the finding's span plus a few seconds of context, cut from the original recording without
a new generation of coding loss: lossless files (WAV, FLAC and the other formats libsndfile reads) are
copied sample for sample at their own rate, channels and sample format; lossy files (MP3, M4A/AAC,
Ogg/Opus…) have their coded packets copied as they are, so a clip starts and ends on packet boundaries
and the index holds the times actually copied. Every file is written under a temporary name and renamed,
so a killed run leaves no half clip.

Personal numbers a customer reads out are toned out (`bleep.py`, placed by the transcript's word timings):
a lossless clip keeps its format with the tone in place of those samples; a lossy clip with a number in
it is decoded and written as WAV, since coded packets cannot be edited. The index lists the toned spans.
"""

from __future__ import annotations

import bisect
import os
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av
import polars as pl
import soundfile as sf

from results.files import make_dirs, read_json, remove_leftovers, safe_name, seal, write_text_atomic

from .bleep import bleep, decode_span, spoken_number_spans, within
from .exports import csv_text
from .labels import SEVERITY_LABEL, SPEAKER_LABEL
from .masking import mask_numbers
from .render import render
from .tables import Filters, ReportError, Tables

INDEX_COLUMNS = ("file", "rule", "severity", "call_id", "agent_id", "team", "date", "finding_start", "finding_end",
                 "clip_start", "clip_end", "truncated", "message", "evidence", "snippet", "bleeped")
# libsndfile subtypes whose decoded samples re-encode to the same samples; anything else is copied as packets
_EXACT_SUBTYPES = ("PCM_", "FLOAT", "DOUBLE", "ULAW", "ALAW", "ALAC_", "DWVW_", "DPCM_")
_PART = re.compile(r"^\..+\.[0-9a-f]{8}\.part(\.[^.]+)?$")  # our temporary files (see _temp_beside)
_AUDIO_ERRORS = (sf.LibsndfileError, av.error.FFmpegError, OSError, RuntimeError, ValueError)


class ClipError(Exception):
    """A clip cannot be cut from a recording; the message says why."""


@dataclass(frozen=True)
class ClipOptions:
    context_s: float = 3.0  # seconds of recording kept before and after the finding
    max_span_s: float = 30.0  # a longer finding (a whole-call one) is clipped to its first max_span_s seconds

    def __post_init__(self) -> None:
        if self.context_s < 0 or self.max_span_s <= 0:
            raise ReportError(f"clip options: context must be >= 0 and max span > 0 "
                              f"(got {self.context_s:g}, {self.max_span_s:g})")


@dataclass(frozen=True)
class Clip:
    """One written clip; times are seconds in the original recording."""

    file: str  # name inside the clips folder
    rule: str
    severity: str
    call_id: str
    agent_id: str | None
    team: str | None
    date: str | None
    finding_start: float
    finding_end: float
    clip_start: float  # where the clip's first sample sits in the recording
    clip_end: float
    truncated: bool  # the finding was longer than max_span_s and only its start is in the clip
    message: str
    evidence: str
    snippet: str  # transcript lines within the clip, "坐席：…" / "客户：…", numbers masked
    bleeped: tuple[tuple[float, float], ...] = ()  # spans (recording seconds) where a spoken number was toned out

    def index_row(self) -> dict[str, str]:
        values: dict[str, Any] = {c: getattr(self, c) for c in INDEX_COLUMNS}
        for c in ("finding_start", "finding_end", "clip_start", "clip_end"):
            values[c] = f"{values[c]:.3f}"
        values["truncated"] = "true" if self.truncated else "false"
        values["bleeped"] = "; ".join(f"{a:.2f}-{b:.2f}" for a, b in self.bleeped)
        return {c: "" if v is None else str(v) for c, v in values.items()}


@dataclass(frozen=True)
class SkippedFinding:
    rule: str
    call_id: str
    start: float | None
    end: float | None
    reason: str
    recording_problem: bool  # missing or unreadable audio, as opposed to a finding that cannot be placed


@dataclass
class ClipReport:
    out_dir: Path
    filters: Filters
    options: ClipOptions
    clips: list[Clip] = field(default_factory=list)
    skipped: list[SkippedFinding] = field(default_factory=list)

    @property
    def index_csv(self) -> Path:
        return self.out_dir / "index.csv"

    @property
    def index_html(self) -> Path:
        return self.out_dir / "index.html"


# ---- selecting ---------------------------------------------------------------------------------------


def select_findings(tables: Tables, filters: Filters) -> pl.DataFrame:
    """The findings to clip, grouped by rule, then in call and time order."""
    return (filters.apply_findings(tables)
            .sort(["rule", "date", "call_id", "start"], nulls_last=True)
            .collect())


# ---- cutting -----------------------------------------------------------------------------------------


def _exact_info(path: Path) -> Any | None:
    """libsndfile's header info when the file's samples can be copied exactly, else None."""
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError):
        return None
    return info if info.subtype.startswith(_EXACT_SUBTYPES) else None


def _read_dtype(subtype: str) -> str:
    # int32 holds every integer format unchanged (libsndfile left-justifies); floats stay floats
    return {"FLOAT": "float32", "DOUBLE": "float64"}.get(subtype, "int32")


def _temp_beside(dest: Path) -> Path:
    # the real suffix last, so writers that pick a format from the name still can
    return dest.with_name(f".{dest.stem}.{uuid.uuid4().hex[:8]}.part{dest.suffix}")


def _publish(tmp: Path, dest: Path) -> None:
    seal(tmp)  # flushed, and owner-only like every other file callqa writes
    os.replace(tmp, dest)


def _cut_exact(src: Path, info: Any, start: float, end: float, tmp: Path,
               numbers: Sequence[tuple[float, float]] = ()) -> tuple[float, float]:
    rate = info.samplerate
    first = min(max(round(start * rate), 0), info.frames)
    last = min(max(round(end * rate), 0), info.frames)
    if last <= first:
        raise ClipError(f"{start:.2f}-{end:.2f} s lies outside the recording ({info.frames / rate:.2f} s)")
    with sf.SoundFile(str(src)) as f:
        f.seek(first)
        data = f.read(last - first, dtype=_read_dtype(info.subtype), always_2d=True)
    if len(data) == 0:  # a header promising more than the file holds
        raise ClipError(f"no samples at {start:.2f} s (recording truncated?)")
    if numbers:
        data = bleep(data, rate, first / rate, numbers, 1.0 if data.dtype.kind == "f" else 2.0**31)
    sf.write(str(tmp), data, rate, subtype=info.subtype, format=info.format, endian=info.endian)
    return first / rate, (first + len(data)) / rate


@dataclass(frozen=True)
class _Packets:
    """Where each coded packet of the first audio stream lies, in seconds of the decoded audio."""

    starts: list[float]
    ends: list[float]
    pts: list[int]  # in the stream's time base, to re-time the copies


def _packets(src: Path) -> _Packets:
    with av.open(str(src), metadata_errors="ignore") as c:
        if not c.streams.audio:
            raise ClipError("no audio stream in the file")
        st = c.streams.audio[0]
        tb = float(st.time_base)
        origin = st.start_time or 0  # decoded sample 0 (after encoder delay, pre-skip…) sits at this pts
        pts: list[int] = []
        durations: list[int | None] = []
        for p in c.demux(st):
            if p.size == 0:  # the demuxer's end-of-stream marker
                continue
            guess = pts[-1] + (durations[-1] or 0) if pts else 0
            pts.append(p.pts if p.pts is not None else guess)
            durations.append(p.duration or None)
        total = c.duration / 1_000_000 if c.duration else None
    if not pts:
        raise ClipError("no audio packets in the file")
    starts = [(q - origin) * tb for q in pts]
    ends = [s + d * tb if d else 0.0 for s, d in zip(starts, durations, strict=True)]
    for i, d in enumerate(durations):  # formats without packet durations: up to the next packet
        if not d:
            ends[i] = starts[i + 1] if i + 1 < len(starts) else max(total or starts[i], starts[i])
    return _Packets(starts, ends, pts)


def _copy_packets(src: Path, tmp: Path, packets: _Packets, first: int, last: int) -> float:
    """Copy packets first..last as they are; returns how far into them the clip's decoded audio starts."""
    base = packets.pts[first]
    with av.open(str(src), metadata_errors="ignore") as inp, av.open(str(tmp), "w") as out:
        ist = inp.streams.audio[0]
        ost = out.add_stream_from_template(ist)
        i = -1
        for p in inp.demux(ist):
            if p.size == 0:
                continue
            i += 1
            if i < first:
                continue
            if i > last:
                break
            p.pts = p.dts = packets.pts[i] - base  # audio packets decode in order: dts is pts
            p.stream = ost
            out.mux(p)
    with av.open(str(tmp)) as clip:
        st = clip.streams.audio[0]
        return float((st.start_time or 0) * st.time_base)


def _cut_packets(src: Path, start: float, end: float, tmp: Path) -> tuple[float, float]:
    packets = _packets(src)
    start, end = max(start, 0.0), min(end, packets.ends[-1])
    if end <= start:
        raise ClipError(f"{start:.2f}-{end:.2f} s lies outside the recording ({packets.ends[-1]:.2f} s)")
    first = max(bisect.bisect_right(packets.starts, start) - 1, 0)  # the packet at or before start
    last = min(bisect.bisect_left(packets.ends, end), len(packets.ends) - 1)  # the packet covering end
    lead = _copy_packets(src, tmp, packets, first, last)
    if lead > 0 and packets.starts[first] + lead > start and first > 0:
        # the decoder drops the first samples of a stream (MP3 decoder delay, Opus pre-skip): start earlier
        first = max(bisect.bisect_right(packets.starts, start - lead) - 1, 0)
        lead = _copy_packets(src, tmp, packets, first, last)
    return packets.starts[first] + lead, packets.ends[last]


def _cut_decoded(src: Path, start: float, end: float, tmp: Path,
                 numbers: Sequence[tuple[float, float]]) -> tuple[float, float]:
    data, rate, offset = decode_span(src, start, end)
    if len(data) == 0:
        raise ClipError(f"{start:.2f}-{end:.2f} s lies outside the recording")
    sf.write(str(tmp), bleep(data, rate, offset, numbers), rate, format="WAV", subtype="PCM_16")
    return offset, offset + len(data) / rate


def cut_clip(recording: Path, start: float, end: float, dest: Path,
             numbers: Sequence[tuple[float, float]] = ()) -> tuple[float, float]:
    """Write recording[start:end] to `dest` (written whole or not at all); returns the actual (start, end).

    Lossless recordings are cut sample-exactly with the original rate, channels and sample format;
    lossy ones by copying coded packets, from the packet at or before `start` to the one covering `end`.
    The span is clamped to the recording. Raises ClipError, or the decoder's error for a broken file.
    `numbers` (recording seconds) are toned out: a lossless clip keeps its format, a lossy one is decoded
    and written as 16-bit WAV (`dest` should then end in .wav; see `clip_suffix`).
    """
    recording, dest = Path(recording), Path(dest)
    make_dirs(dest.parent)
    tmp = _temp_beside(dest)
    try:
        info = _exact_info(recording)
        numbers = within(numbers, start, end)
        if info is not None:
            span = _cut_exact(recording, info, start, end, tmp, numbers)
        elif numbers:
            span = _cut_decoded(recording, start, end, tmp, numbers)
        else:
            span = _cut_packets(recording, start, end, tmp)
        _publish(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return span


def recording_duration(path: Path) -> float:
    """Length of the decoded audio in seconds (header or packet timing; nothing is decoded)."""
    info = _exact_info(path)
    if info is not None:
        return info.frames / info.samplerate
    return _packets(path).ends[-1]


def clip_suffix(recording: Path, bleeped: bool = False) -> str:
    """A clip keeps its recording's kind of file, unless a lossy one had numbers toned out (then WAV)."""
    if bleeped and _exact_info(recording) is None:
        return ".wav"
    if recording.suffix:
        return recording.suffix.lower()
    info = _exact_info(recording)
    return f".{info.format.lower()}" if info is not None else ".mka"


# ---- naming and text ---------------------------------------------------------------------------------


def name_time(seconds: float) -> str:
    """24.24 -> '0m24.2s' (for file names)."""
    tenths = round(max(seconds, 0.0) * 10)
    minutes, rest = divmod(tenths, 600)
    return f"{minutes}m{rest / 10:04.1f}s"


def _safe_part(text: str, limit: int = 60) -> str:
    return safe_name(text)[:limit] or "x"


def clip_name(rule: str, call_id: str, start: float, end: float, suffix: str) -> str:
    """`<rule>__<call_id>__<start>-<end><suffix>`, made safe for any file system."""
    return f"{_safe_part(rule)}__{_safe_part(call_id, 80)}__{name_time(start)}-{name_time(end)}{suffix}"


def _unique(name: str, taken: set[str]) -> str:
    stem, dot, ext = name.rpartition(".")
    candidate, n = name, 1
    while candidate.casefold() in taken:  # case-insensitive file systems would merge them
        n += 1
        candidate = f"{stem}__{n}{dot}{ext}"
    taken.add(candidate.casefold())
    return candidate


def transcript_segments(out_dir: Path, call_id: str) -> list[dict[str, Any]]:
    path = Path(out_dir) / "transcripts" / f"{safe_name(call_id)}.json"
    try:
        return list(read_json(path).get("segments", []))
    except (OSError, ValueError, AttributeError):
        return []  # a clip without its transcript lines is still worth listening to


def snippet(segments: list[dict[str, Any]], start: float, end: float) -> str:
    """The transcript lines overlapping [start, end], one per line with 坐席/客户 labels, numbers masked."""
    lines = []
    for seg in segments:
        s, e = seg.get("start"), seg.get("end")
        if s is None or e is None or e <= start or s >= end:
            continue
        label = SPEAKER_LABEL.get(seg.get("speaker") or "", "未知")
        lines.append(f"{label}：{mask_numbers(str(seg.get('text', '')).strip())}")
    return "\n".join(lines)


# ---- making the set --------------------------------------------------------------------------------


def _clean_leftovers(out_dir: Path) -> None:
    remove_leftovers(out_dir)  # the index's
    for p in out_dir.iterdir():
        if _PART.match(p.name) and p.is_file():
            p.unlink(missing_ok=True)


@dataclass
class _Cutter:
    """Clips findings one at a time, reading each recording's length and each transcript once."""

    tables: Tables
    out_dir: Path
    options: ClipOptions
    durations: dict[Path, float | str] = field(default_factory=dict)  # length, or why it cannot be read
    transcripts: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    numbers: dict[str, list[tuple[float, float]]] = field(default_factory=dict)  # spoken personal numbers per call
    taken: set[str] = field(default_factory=lambda: {"index.csv", "index.html"})

    def duration(self, path: Path) -> float | str:
        if path not in self.durations:
            try:
                self.durations[path] = recording_duration(path)
            except (ClipError, *_AUDIO_ERRORS) as exc:
                self.durations[path] = f"recording unreadable: {path}: {exc}"
        return self.durations[path]

    def segments(self, call_id: str) -> list[dict[str, Any]]:
        if call_id not in self.transcripts:
            self.transcripts[call_id] = transcript_segments(self.tables.out_dir, call_id)
        return self.transcripts[call_id]

    def spoken_numbers(self, call_id: str) -> list[tuple[float, float]]:
        if call_id not in self.numbers:
            self.numbers[call_id] = spoken_number_spans(self.segments(call_id))
        return self.numbers[call_id]

    def clip(self, row: dict[str, Any]) -> Clip | SkippedFinding:
        def skip(reason: str, problem: bool = False) -> SkippedFinding:
            return SkippedFinding(row["rule"], row["call_id"], row["start"], row["end"], reason, problem)

        fs, fe = row["start"], row["end"]
        if fs is None or fe is None:
            return skip("the finding has no start/end time")
        fe = max(fe, fs)
        truncated = fe - fs > self.options.max_span_s
        want_start = max(fs - self.options.context_s, 0.0)
        want_end = min(fe, fs + self.options.max_span_s) + self.options.context_s

        path = self.tables.recording_path(row["recording"])
        if path is None:
            return skip(f"recording not found: {row['recording'] or '(none recorded)'}", problem=True)
        duration = self.duration(path)
        if isinstance(duration, str):
            return skip(duration, problem=True)
        want_end = min(want_end, duration)
        if want_end <= want_start:
            return skip(f"the finding ({fs:.2f}-{fe:.2f} s) lies outside the recording ({duration:.2f} s)")

        numbers = within(self.spoken_numbers(row["call_id"]), want_start, want_end)
        suffix = clip_suffix(path, bool(numbers))
        name = _unique(clip_name(row["rule"], row["call_id"], want_start, want_end, suffix), self.taken)
        try:
            clip_start, clip_end = cut_clip(path, want_start, want_end, self.out_dir / name, numbers)
        except (ClipError, *_AUDIO_ERRORS) as exc:
            return skip(f"recording unreadable: {path}: {exc}", problem=True)
        return Clip(
            file=name, rule=row["rule"], severity=row["severity"], call_id=row["call_id"],
            agent_id=row["agent_id"], team=row["team"], date=row["date"].isoformat() if row["date"] else None,
            finding_start=fs, finding_end=fe, clip_start=clip_start, clip_end=clip_end, truncated=truncated,
            message=mask_numbers(row["message"] or ""), evidence=mask_numbers(row["evidence"] or ""),
            snippet=snippet(self.segments(row["call_id"]), clip_start, clip_end),
            bleeped=tuple(within(numbers, clip_start, clip_end)),
        )


def make_clips(tables: Tables, filters: Filters, out_dir: Path, options: ClipOptions | None = None) -> ClipReport:
    """Cut one clip per matching finding into `out_dir` and write index.csv and index.html there.

    A finding that cannot be clipped (no times, recording missing or unreadable) is listed in the
    report's `skipped` with the reason; the other findings go on.
    """
    options = options or ClipOptions()
    out_dir = Path(out_dir)
    make_dirs(out_dir)
    _clean_leftovers(out_dir)
    report = ClipReport(out_dir, filters, options)
    cutter = _Cutter(tables, out_dir, options)
    for row in select_findings(tables, filters).iter_rows(named=True):
        outcome = cutter.clip(row)
        if isinstance(outcome, Clip):
            report.clips.append(outcome)
        else:
            report.skipped.append(outcome)
    write_index(report)
    return report


# ---- the index ---------------------------------------------------------------------------------------


def index_csv_text(clips: list[Clip]) -> str:
    return csv_text(INDEX_COLUMNS, (clip.index_row() for clip in clips))


def write_index(report: ClipReport) -> None:
    # BOM: Excel opens the Chinese text right only with it
    write_text_atomic(report.index_csv, index_csv_text(report.clips), encoding="utf-8-sig")
    write_text_atomic(report.index_html, index_html(report))


def _filters_text(f: Filters) -> str:
    parts = [f"{label}：{'、'.join(values)}" for label, values in
             (("规则", f.rule), ("严重程度", tuple(SEVERITY_LABEL.get(v, v) for v in f.severity)),
              ("坐席", f.agent), ("班组", f.team), ("问卷", f.questionnaire)) if values]
    if f.week:
        parts.append(f"周：{f.week}")
    if f.date_from or f.date_to:
        parts.append(f"日期：{f.date_from or '…'} 至 {f.date_to or '…'}")
    return "；".join(parts) or "全部"


def index_html(report: ClipReport) -> str:
    """A page that works opened straight from disk: relative audio sources, no outside resources."""
    return render("clips.html.j2", report=report, filters_text=_filters_text(report.filters),
                  severity_label=SEVERITY_LABEL)
