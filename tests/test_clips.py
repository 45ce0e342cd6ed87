"""Trainer clips: cut from the real fixture recordings, read back with librosa and compared sample by sample."""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
import shutil
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import av
import librosa
import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner
from reportdata import FIXTURES, build_output

from callqa.cli_clips import clips as clips_command
from callqa.masking import mask_numbers
from callqa.model import transcript_from_dict
from reports.bleep import TONE_LEVEL, spoken_number_spans
from reports.clips import INDEX_COLUMNS, Clip, ClipOptions, ClipReport, cut_clip, make_clips, select_findings
from reports.tables import Filters, Tables
from results.files import read_json
from results.store import ResultStore

CONTEXT = ClipOptions().context_s
MAX_SPAN = ClipOptions().max_span_s
LOSSY_CALL = "stereo_agent_right_issues"
Edit = Callable[[dict[str, Any], dict[str, Any]], None]  # (result, transcript) -> None, in place


# ---- shared outputs ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def output(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_output(tmp_path_factory.mktemp("run") / "out")


@pytest.fixture(scope="module")
def all_clips(output: Path, tmp_path_factory: pytest.TempPathFactory) -> ClipReport:
    return make_clips(Tables(output), Filters(), tmp_path_factory.mktemp("clips"))


def rescored(output: Path, dest: Path, edits: dict[str, Edit]) -> Path:
    """A copy of `output` where some calls were scored again, changed by `edits`, in a newer run."""
    out = Path(shutil.copytree(output, dest))
    store = ResultStore(out)
    run_id = "20261122T000001-edit"
    for call_id, edit in edits.items():
        result, transcript = read_json(store.result_path(call_id)), read_json(store.transcript_path(call_id))
        edit(result, transcript)
        result["scoring"]["run_id"] = run_id
        store.save_call(transcript_from_dict(transcript), result)
    store.sync_tables(run_id)
    return out


def load(path: Path) -> tuple[np.ndarray, int]:
    if path.suffix == ".m4a":  # libsndfile has no AAC and librosa's fallback needs an FFmpeg program
        with av.open(str(path)) as c:
            frames = [f.to_ndarray() for f in c.decode(audio=0)]
            sr = c.streams.audio[0].rate
        return np.concatenate(frames, axis=1).astype(np.float32), int(sr)
    y, sr = librosa.load(path, sr=None, mono=False)
    return np.atleast_2d(y), int(sr)


def result_findings(output: Path) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(call result, finding) pairs straight from the per-call JSON files."""
    pairs = []
    for path in sorted((output / "results").glob("*.json")):
        result = json.loads(path.read_text(encoding="utf-8"))
        pairs.extend((result, f) for f in result["findings"])
    return pairs


def read_index(out_dir: Path) -> list[dict[str, str]]:
    raw = (out_dir / "index.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    with (out_dir / "index.csv").open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        assert tuple(reader.fieldnames or ()) == INDEX_COLUMNS
        return list(reader)


class _Resources(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.audio: list[dict[str, str | None]] = []
        self.refs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "audio":
            self.audio.append(a)
        self.refs += [v for k, v in attrs if k in ("src", "href") and v]


def page_resources(out_dir: Path) -> _Resources:
    parser = _Resources()
    parser.feed((out_dir / "index.html").read_text(encoding="utf-8"))
    return parser


def expected_clip_span(clip: Clip, duration: float) -> tuple[float, float]:
    """Where a clip with the default options must start and end, from its finding alone."""
    start = max(0.0, clip.finding_start - CONTEXT)
    end = min(clip.finding_end, clip.finding_start + MAX_SPAN) + CONTEXT
    return start, min(end, duration)


# ---- lossless cutting -------------------------------------------------------------------------------


def test_every_timed_finding_gets_a_clip(output: Path, all_clips: ClipReport) -> None:
    expected = sorted((r["call_id"], f["rule"], f["start"]) for r, f in result_findings(output))
    assert sorted((c.call_id, c.rule, c.finding_start) for c in all_clips.clips) == expected
    assert all_clips.skipped == []


def test_lossless_clips_are_the_original_samples(output: Path, all_clips: ClipReport) -> None:
    originals: dict[str, tuple[np.ndarray, int]] = {}
    for clip in all_clips.clips:
        recording = Path(read_json(output / "results" / f"{clip.call_id}.json")["recording"])
        if str(recording) not in originals:
            originals[str(recording)] = load(recording)
        orig, sr = originals[str(recording)]
        path = all_clips.out_dir / clip.file
        y, clip_sr = load(path)
        assert clip_sr == sr
        assert y.shape[0] == orig.shape[0]  # channels kept apart
        src, got = sf.info(str(recording)), sf.info(str(path))
        assert (got.format, got.subtype, got.samplerate, got.channels) == (src.format, src.subtype, src.samplerate,
                                                                         src.channels)
        n = y.shape[1]
        assert abs(n - (clip.clip_end - clip.clip_start) * sr) <= 1
        want_start, want_end = expected_clip_span(clip, orig.shape[1] / sr)
        assert abs(clip.clip_start - want_start) <= 1 / sr, clip.file
        assert abs(clip.clip_end - want_end) <= 1 / sr, clip.file
        offset = round(clip.clip_start * sr)
        # the original samples, except where a spoken number was toned out
        toned = np.zeros(n, bool)
        for a, b in clip.bleeped:
            toned[max(0, round((a - clip.clip_start) * sr)):round((b - clip.clip_start) * sr)] = True
        np.testing.assert_array_equal(y[:, ~toned], orig[:, offset:offset + n][:, ~toned], err_msg=clip.file)
        if toned.any():
            assert np.allclose(np.abs(y[:, toned]).max(), TONE_LEVEL, atol=0.01)
    # every clip over a call's opening (工号…) or a customer's number has that number toned out
    assert any(c.bleeped for c in all_clips.clips)


def test_long_findings_are_capped_and_marked(all_clips: ClipReport) -> None:
    long = [c for c in all_clips.clips if c.finding_end - c.finding_start > MAX_SPAN]
    assert {c.rule for c in long} >= {"question.skipped", "rate.too_fast"}
    for clip in all_clips.clips:
        assert clip.truncated == (clip in long)
    for clip in long:
        assert clip.clip_end == pytest.approx(clip.finding_start + MAX_SPAN + CONTEXT, abs=1e-3)
    rows = {r["file"]: r for r in read_index(all_clips.out_dir)}
    assert {f for f, r in rows.items() if r["truncated"] == "true"} == {c.file for c in long}


def test_short_cap_cuts_a_finding_in_mid_call(output: Path, tmp_path: Path) -> None:
    options = ClipOptions(context_s=1.0, max_span_s=2.0)
    report = make_clips(Tables(output), Filters(rule=("identity",)), tmp_path, options)
    (clip,) = report.clips
    assert clip.truncated and clip.finding_start > 5
    assert clip.clip_start == pytest.approx(clip.finding_start - 1.0, abs=1 / 8000)
    assert clip.clip_end == pytest.approx(clip.finding_start + 3.0, abs=1 / 8000)
    y, sr = load(tmp_path / clip.file)
    assert abs(y.shape[1] - 4.0 * sr) <= 1
    assert "仅截取前 2 秒" in (tmp_path / "index.html").read_text(encoding="utf-8")


def test_cut_clip_clamps_to_the_recording(tmp_path: Path) -> None:
    recording = FIXTURES / "mono_clean.wav"
    info = sf.info(str(recording))
    start, end = cut_clip(recording, -5.0, info.duration + 10, tmp_path / "whole.wav")
    assert (start, end) == (0.0, info.frames / info.samplerate)
    assert sf.info(str(tmp_path / "whole.wav")).frames == info.frames
    with pytest.raises(Exception, match="outside"):
        cut_clip(recording, info.duration + 1, info.duration + 5, tmp_path / "none.wav")
    assert [p.name for p in tmp_path.iterdir()] == ["whole.wav"]  # no temporary left behind


# ---- lossy: packet copy ------------------------------------------------------------------------------


def encode_lossy(src: Path, dest: Path, codec: str = "libmp3lame") -> Path:
    data, sr = sf.read(str(src), dtype="float32", always_2d=True)
    layout = "stereo" if data.shape[1] == 2 else "mono"
    with av.open(str(dest), "w") as out:
        stream = out.add_stream(codec, rate=sr, layout=layout)
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(data.T), format="fltp", layout=layout)
        frame.sample_rate = sr
        resampler = av.AudioResampler(format=stream.codec_context.format.name, layout=layout, rate=sr)
        for chunk in [*resampler.resample(frame), *resampler.resample(None), None]:
            for packet in stream.encode(chunk):
                out.mux(packet)
    return dest


def packet_bytes(path: Path) -> list[bytes]:
    with av.open(str(path)) as c:
        return [bytes(p) for p in c.demux(c.streams.audio[0]) if p.size]


LOSSY_FORMATS = [("libmp3lame", "mp3"), ("aac", "m4a"), ("libopus", "ogg")]


@pytest.mark.parametrize(("codec", "ext"), LOSSY_FORMATS, ids=[e for _, e in LOSSY_FORMATS])
def test_lossy_clips_are_packet_copies_at_the_reported_offset(output: Path, tmp_path: Path, codec: str,
                                                              ext: str) -> None:
    recording = encode_lossy(FIXTURES / f"{LOSSY_CALL}.flac", tmp_path / f"{LOSSY_CALL}.{ext}", codec)

    def use_lossy(result: dict[str, Any], transcript: dict[str, Any]) -> None:
        result["recording"] = transcript["recording"] = str(recording)
        for seg in transcript["segments"]:  # no spoken number: the clips are packet copies
            seg["text"] = mask_numbers(seg["text"])

    out = rescored(output, tmp_path / "out", {LOSSY_CALL: use_lossy})
    report = make_clips(Tables(out), Filters(agent=("A017",)), tmp_path / "clips")
    lossy = [c for c in report.clips if c.call_id == LOSSY_CALL]
    assert len(lossy) == 3 and all(c.file.endswith(f".{ext}") for c in lossy)
    orig, sr = load(recording)
    orig_packets = packet_bytes(recording)
    with av.open(str(recording)) as c:
        first_packet = next(p for p in c.demux(c.streams.audio[0]) if p.size)
        packet_s = float(first_packet.duration * first_packet.time_base)
    for clip in lossy:
        path = report.out_dir / clip.file
        want_start, want_end = expected_clip_span(clip, orig.shape[1] / sr)
        y, clip_sr = load(path)
        assert clip_sr == sr and y.shape[0] == 2
        decoded = y.shape[1] / sr
        # whole packets at each end: at most about one packet over on either side
        assert decoded == pytest.approx(want_end - want_start, abs=2 * packet_s + 0.01), clip.file
        assert decoded == pytest.approx(clip.clip_end - clip.clip_start, abs=0.002), clip.file
        assert clip.clip_start <= want_start + 1e-6 and want_start - clip.clip_start < packet_s + 0.03
        assert clip.clip_end >= want_end - 1e-6 and clip.clip_end - want_end < packet_s + 0.03
        # stream copy: the clip's coded packets are a run of the original's, byte for byte
        copied = packet_bytes(path)
        first = orig_packets.index(copied[0])
        assert orig_packets[first:first + len(copied)] == copied
        # and it sounds like the original at the reported offset (past the first frame's bit reservoir)
        offset, skip = round(clip.clip_start * sr), sr // 10
        lags = range(-40, 41)
        a = y[0, skip:-sr // 20]
        corr = []
        for lag in lags:
            b = orig[0, offset + skip + lag:offset + skip + lag + a.size]
            corr.append(float(a @ b / np.sqrt((a @ a) * (b @ b))))
        assert max(corr) > 0.9 and abs(lags[int(np.argmax(corr))]) <= 2, clip.file
    # the other agent's lossless calls are untouched by the lossy one
    assert all(c.file.endswith(".wav") for c in report.clips if c.call_id != LOSSY_CALL)


def test_a_lossy_clip_over_a_spoken_number_is_decoded_with_the_number_toned_out(output: Path, tmp_path: Path) -> None:
    recording = encode_lossy(FIXTURES / f"{LOSSY_CALL}.flac", tmp_path / f"{LOSSY_CALL}.mp3")
    said: list[tuple[float, float]] = []

    def number_with_words(result: dict[str, Any], transcript: dict[str, Any]) -> None:
        result["recording"] = transcript["recording"] = str(recording)
        seg = next(s for s in transcript["segments"] if "工号" in s["text"])
        # the recogniser's words: the 工号 read out in two words, timed inside the segment
        t, step = seg["start"], (seg["end"] - seg["start"]) / 6
        words = ["您好新华保险", "回访专员陈静", "工号", "五一", "七三", "方便吗"]
        seg["words"] = [{"word": w, "start": t + i * step, "end": t + (i + 1) * step} for i, w in enumerate(words)]
        said.append((t + 3 * step, t + 5 * step))

    out = rescored(output, tmp_path / "out", {LOSSY_CALL: number_with_words})
    report = make_clips(Tables(out), Filters(agent=("A017",)), tmp_path / "clips")
    clip = next(c for c in report.clips if c.call_id == LOSSY_CALL and c.bleeped)
    assert clip.file.endswith(".wav")
    (a, b), = clip.bleeped
    assert a == pytest.approx(said[0][0] - 0.08, abs=1e-6) and b == pytest.approx(said[0][1] + 0.08, abs=1e-6)
    y, sr = load(report.out_dir / clip.file)
    inside = y[:, round((a - clip.clip_start) * sr) + 10:round((b - clip.clip_start) * sr) - 10]
    spectrum = np.abs(np.fft.rfft(inside[0]))
    assert abs(np.fft.rfftfreq(inside.shape[1], 1 / sr)[int(np.argmax(spectrum))] - 1000) < 20  # the tone
    row = next(r for r in read_index(report.out_dir) if r["file"] == clip.file)
    assert row["bleeped"] == f"{a:.2f}-{b:.2f}"


def test_spoken_numbers_are_placed_by_word_timings_or_by_their_share_of_a_segment() -> None:
    words = [{"word": w, "start": float(i), "end": i + 1.0} for i, w in enumerate(["我的", "手机", "幺三八", "啊",
                                                                                     "一二三四", "五六", "七八", "好"])]
    assert spoken_number_spans([{"start": 0, "end": 8, "text": "", "words": words}]) == [(1.92, 7.08)]
    guess = spoken_number_spans([{"start": 10.0, "end": 20.0, "text": "尾号3、2、1、5好的"}])
    (a, b), = guess
    assert 10.0 <= a < 12.0 and 16.0 < b <= 20.0  # 尾号 is two of twelve characters; 好的 the last two
    assert spoken_number_spans([{"start": 0, "end": 5, "text": "保费六千元，十五年交"}]) == []


# ---- filters -----------------------------------------------------------------------------------------


def _week(result: dict[str, Any]) -> tuple[int, int]:
    day = dt.date.fromisoformat(result["started_at"][:10])
    return day.isocalendar()[0], day.isocalendar()[1]


FILTER_CASES: list[tuple[Filters, Callable[[dict[str, Any], dict[str, Any]], bool]]] = [
    (Filters(rule=("forbidden",)), lambda r, f: f["rule"].startswith("forbidden.")),
    (Filters(rule=("alert.complaint", "identity")), lambda r, f: f["rule"] == "alert.complaint"
     or f["rule"].startswith("identity.")),
    (Filters(severity=("major",)), lambda r, f: f["severity"] == "major"),
    (Filters(agent=("A017",)), lambda r, f: r["agent_id"] == "A017"),
    (Filters(team=("回访二组",), severity=("critical", "major")),
     lambda r, f: r["team"] == "回访二组" and f["severity"] in ("critical", "major")),
    (Filters(week="2026-W47"), lambda r, f: _week(r) == (2026, 47)),
    (Filters(week="2026-W48"), lambda r, f: _week(r) == (2026, 48)),
    (Filters(date_from=dt.date(2026, 11, 18), date_to=dt.date(2026, 11, 19)),
     lambda r, f: "2026-11-18" <= r["started_at"][:10] <= "2026-11-19"),
    (Filters(rule=("alert",), agent=("A031",)), lambda r, f: f["rule"].startswith("alert.") and r["agent_id"] == "A031"),
]


@pytest.mark.parametrize(("filters", "keep"), FILTER_CASES, ids=[repr(f) for f, _ in FILTER_CASES])
def test_filters_select_the_right_findings(output: Path, filters: Filters, keep: Callable[..., bool]) -> None:
    expected = sorted((r["call_id"], f["rule"], f["start"]) for r, f in result_findings(output) if keep(r, f))
    frame = select_findings(Tables(output), filters)
    assert sorted(zip(frame["call_id"], frame["rule"], frame["start"], strict=True)) == expected
    if filters.week != "2026-W48":
        assert expected, "a filter case that selects nothing proves little"


def test_clips_follow_the_filters(output: Path, tmp_path: Path) -> None:
    report = make_clips(Tables(output), Filters(rule=("alert",), severity=("major",)), tmp_path)
    expected = sorted((r["call_id"], f["rule"]) for r, f in result_findings(output)
                      if f["rule"].startswith("alert.") and f["severity"] == "major")
    assert expected and sorted((c.call_id, c.rule) for c in report.clips) == expected
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([c.file for c in report.clips]
                                                                + ["index.csv", "index.html"])


# ---- names and index ---------------------------------------------------------------------------------

NAME = re.compile(r"^(?P<rule>[a-z_]+\.[a-z_]+)__(?P<call>[A-Za-z0-9_.-]+)__(?P<a>\d+m\d\d\.\ds)-(?P<b>\d+m\d\d\.\ds)"
                  r"(__\d+)?\.(wav|flac)$")


def test_names_are_safe_unique_and_say_rule_call_and_time(all_clips: ClipReport) -> None:
    names = [c.file for c in all_clips.clips]
    assert len(set(names)) == len(names)
    for clip in all_clips.clips:
        m = NAME.match(clip.file)
        assert m, clip.file
        assert (m["rule"], m["call"]) == (clip.rule, clip.call_id)
        minutes, seconds = divmod(round(clip.clip_start * 10), 600)
        assert m["a"] == f"{minutes}m{seconds / 10:04.1f}s"
    assert "forbidden.vague__stereo_agent_right_issues__0m24.2s-0m31.1s.flac" in names


def test_colliding_findings_get_distinct_files(output: Path, tmp_path: Path) -> None:
    def twice(result: dict[str, Any], transcript: dict[str, Any]) -> None:
        vague = next(f for f in result["findings"] if f["rule"] == "forbidden.vague")
        result["findings"].append(dict(vague, evidence="大约"))

    out = rescored(output, tmp_path / "out", {LOSSY_CALL: twice})
    report = make_clips(Tables(out), Filters(rule=("forbidden.vague",)), tmp_path / "clips")
    a, b = report.clips
    assert a.file != b.file and {a.clip_start, a.clip_end} == {b.clip_start, b.clip_end}
    assert sf.read(str(report.out_dir / a.file))[0].tolist() == sf.read(str(report.out_dir / b.file))[0].tolist()


def test_index_csv_and_html_list_every_clip(all_clips: ClipReport) -> None:
    rows = read_index(all_clips.out_dir)
    assert [r["file"] for r in rows] == [c.file for c in all_clips.clips]
    for row, clip in zip(rows, all_clips.clips, strict=True):
        assert float(row["clip_start"]) == pytest.approx(clip.clip_start, abs=1e-3)
        assert float(row["finding_end"]) == pytest.approx(clip.finding_end, abs=1e-3)
        assert row["message"] == clip.message and row["message"]
        assert row["date"] == clip.date and row["agent_id"] == clip.agent_id
    page = page_resources(all_clips.out_dir)
    assert [unquote(a["src"] or "") for a in page.audio] == [c.file for c in all_clips.clips]
    for a in page.audio:
        assert "controls" in a and a.get("preload") == "metadata"
    for ref in page.refs:  # everything the page loads sits beside it
        assert "://" not in ref and not ref.startswith(("/", "//")) and (all_clips.out_dir / unquote(ref)).is_file()
    text = (all_clips.out_dir / "index.html").read_text(encoding="utf-8")
    assert not re.search(r"https?:", text) and "<link" not in text
    vague = next(c for c in all_clips.clips if c.rule == "forbidden.vague")
    assert "坐席：合同大概上周寄出" in vague.snippet and "坐席：" in text and vague.message in text


def test_values_are_escaped_in_the_page(output: Path, tmp_path: Path) -> None:
    def hostile(result: dict[str, Any], transcript: dict[str, Any]) -> None:
        result["findings"][0]["message"] = '<script>alert("x")</script>'

    out = rescored(output, tmp_path / "out", {"mono_issues": hostile})
    report = make_clips(Tables(out), Filters(agent=("A031",)), tmp_path / "clips")
    text = report.index_html.read_text(encoding="utf-8")
    assert '<script>alert("x")' not in text and "&lt;script&gt;" in text
    assert quote(report.clips[0].file) in text


def test_the_index_csv_holds_no_formula(output: Path, tmp_path: Path) -> None:
    def formula(result: dict[str, Any], transcript: dict[str, Any]) -> None:
        result["findings"][0]["message"] = '=HYPERLINK("http://example.invalid","点此")'

    out = rescored(output, tmp_path / "out", {"mono_issues": formula})
    report = make_clips(Tables(out), Filters(agent=("A031",)), tmp_path / "clips")
    messages = [row["message"] for row in read_index(report.out_dir)]
    assert "'=HYPERLINK(\"http://example.invalid\",\"点此\")" in messages
    assert not any(m.startswith("=") for m in messages)


# ---- personal numbers ------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "masked"), [
    ("身份证后四位是三二一五", "身份证后四位是****"),
    ("电话13812345678好的", "电话***********好的"),
    ("幺三八 一二三四 五六七八", "***********"),
    ("0571-8888", "********"),
    ("证件号11010119900307771X。", "证件号******************。"),
    ("老证110101900307771", "老证***************"),
    ("保费每年六千，交十五年", "保费每年六千，交十五年"),
    ("工号123", "工号123"),
])
def test_mask_numbers(text: str, masked: str) -> None:
    assert mask_numbers(text) == masked


def test_numbers_are_masked_in_the_index(output: Path, tmp_path: Path) -> None:
    def personal(result: dict[str, Any], transcript: dict[str, Any]) -> None:
        vague = next(f for f in result["findings"] if f["rule"] == "forbidden.vague")
        vague["evidence"] = "身份证号11010119900307771X"
        seg = next(s for s in transcript["segments"] if s["start"] < vague["end"] and s["end"] > vague["start"])
        seg["text"] += "身份证后四位是三二一五，手机13812345678。"

    out = rescored(output, tmp_path / "out", {LOSSY_CALL: personal})
    report = make_clips(Tables(out), Filters(rule=("forbidden",)), tmp_path / "clips")
    (clip,) = report.clips
    assert "后四位是****" in clip.snippet and "***********" in clip.snippet and "*" * 18 in clip.evidence
    for name in ("index.html", "index.csv"):
        text = (report.out_dir / name).read_text(encoding="utf-8-sig")
        for secret in ("三二一五", "13812345678", "11010119900307771X", "3215"):
            assert secret not in text, (name, secret)
        assert "****" in text


# ---- failures ----------------------------------------------------------------------------------------


def test_missing_and_broken_recordings_are_reported_and_the_rest_go_on(output: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk" + bytes(200))

    def missing(result: dict[str, Any], transcript: dict[str, Any]) -> None:
        result["recording"] = str(tmp_path / "gone" / "mono_issues.wav")

    def unreadable(result: dict[str, Any], transcript: dict[str, Any]) -> None:
        result["recording"] = str(broken)

    out = rescored(output, tmp_path / "out", {"mono_issues": missing, "stereo_fast_loud": unreadable})
    report = make_clips(Tables(out), Filters(), tmp_path / "clips")
    skipped = {(s.call_id, s.rule): s for s in report.skipped}
    by_call = {r["call_id"]: len(r["findings"]) for r, _ in result_findings(output)}
    assert {c for c, _ in skipped} == {"mono_issues", "stereo_fast_loud"}
    assert len(skipped) == by_call["mono_issues"] + by_call["stereo_fast_loud"]
    assert all(s.recording_problem for s in skipped.values())
    assert all("not found" in s.reason and "mono_issues.wav" in s.reason
               for (c, _), s in skipped.items() if c == "mono_issues")
    assert all("unreadable" in s.reason and "broken.wav" in s.reason
               for (c, _), s in skipped.items() if c == "stereo_fast_loud")
    assert {c.call_id for c in report.clips} == {LOSSY_CALL}
    assert len(read_index(report.out_dir)) == len(report.clips) == by_call[LOSSY_CALL]
    assert all((report.out_dir / c.file).is_file() for c in report.clips)
    assert not list(report.out_dir.glob(".*"))  # no temporary files from the failed cuts
    assert "未生成片段" in report.index_html.read_text(encoding="utf-8")


def test_findings_without_times_are_listed_not_clipped(output: Path, tmp_path: Path) -> None:
    def untimed(result: dict[str, Any], transcript: dict[str, Any]) -> None:
        for f in result["findings"]:
            f["start"] = f["end"] = None

    out = rescored(output, tmp_path / "out", {"mono_issues": untimed})
    report = make_clips(Tables(out), Filters(agent=("A031",)), tmp_path / "clips")
    assert report.clips == [] and report.skipped
    assert all("no start/end" in s.reason and not s.recording_problem for s in report.skipped)


def test_leftovers_of_a_killed_run_are_removed(output: Path, tmp_path: Path) -> None:
    half = tmp_path / ".forbidden.vague__x__0m01.0s-0m02.0s.0123abcd.part.flac"
    half.write_bytes(b"half a clip")
    half_index = tmp_path / ".index.csv.k2j4x9.tmp"
    half_index.write_text("file,ru", encoding="utf-8")
    keep = tmp_path / "notes.txt"
    keep.write_text("trainer notes", encoding="utf-8")
    make_clips(Tables(output), Filters(rule=("forbidden",)), tmp_path)
    assert not half.exists() and not half_index.exists() and keep.exists()


# ---- the command -------------------------------------------------------------------------------------


def invoke(*args: str) -> Any:
    return CliRunner().invoke(clips_command, list(args))


def test_cli_writes_clips_and_a_summary(output: Path, tmp_path: Path) -> None:
    res = invoke("--rule", "forbidden", "--rule", "alert", "--agent", "A017", "--agent", "A023",
                 "--week", "2026-W47", "--results", str(output), "--out", str(tmp_path), "--context", "1.5")
    assert res.exit_code == 0, res.output
    rows = read_index(tmp_path)
    assert {(r["call_id"], r["rule"]) for r in rows} == {(LOSSY_CALL, "forbidden.vague"),
                                                        ("stereo_fast_loud", "alert.complaint")}
    assert all(float(r["clip_start"]) == pytest.approx(float(r["finding_start"]) - 1.5, abs=1e-3) for r in rows)
    assert "2 clips written" in res.stdout and "index.html" in res.stdout


def test_cli_dates_and_severity(output: Path, tmp_path: Path) -> None:
    res = invoke("--from", "2026-11-20", "--to", "2026-11-20", "--severity", "major", "--results", str(output),
                 "--out", str(tmp_path))
    assert res.exit_code == 0, res.output
    expected = {f["rule"] for r, f in result_findings(output)
                if r["started_at"].startswith("2026-11-20") and f["severity"] == "major"}
    assert expected and {r["rule"] for r in read_index(tmp_path)} == expected


def test_cli_no_match_writes_an_empty_index(output: Path, tmp_path: Path) -> None:
    res = invoke("--agent", "NOBODY", "--results", str(output), "--out", str(tmp_path))
    assert res.exit_code == 0, res.output
    assert "no findings match" in res.stdout
    assert read_index(tmp_path) == [] and page_resources(tmp_path).audio == []


def test_cli_errors(output: Path, tmp_path: Path) -> None:
    res = invoke("--results", str(tmp_path / "nothing"), "--out", str(tmp_path / "clips"))
    assert res.exit_code == 2 and res.stderr.startswith("callqa: error:") and "no result tables" in res.stderr
    res = invoke("--week", "2026-W99", "--results", str(output), "--out", str(tmp_path / "clips"))
    assert res.exit_code == 2 and "callqa: error:" in res.stderr and not (tmp_path / "clips").exists()


def test_cli_names_a_missing_recording_and_writes_the_rest(output: Path, tmp_path: Path) -> None:
    def missing(result: dict[str, Any], transcript: dict[str, Any]) -> None:
        result["recording"] = "recordings/elsewhere/stereo_fast_loud.flac"

    out = rescored(output, tmp_path / "out", {"stereo_fast_loud": missing})
    res = invoke("--rule", "alert", "--results", str(out), "--out", str(tmp_path / "clips"))
    assert res.exit_code == 1
    assert "callqa: error: alert.complaint  stereo_fast_loud" in res.stderr and "elsewhere" in res.stderr
    assert [r["call_id"] for r in read_index(tmp_path / "clips")] == ["mono_issues"]
