"""Measure the benchmark's voices: does Whisper base recognise each, does pyannote separate each pair?

Two steps, one per virtual environment (the TTS one makes the audio, callqa's measures it):

    /tmp/ttsvenv/bin/python benchmarks/audio_bench/voice_probe.py make       # probe audio into .generated/voice_probe/
    python benchmarks/audio_bench/voice_probe.py measure                     # CER per voice, separation per pair

The probe: eight callback lines (opening, identity, documents, cooling-off, customer answers, a
complaint, the closing) spoken by every voice over the telephone line, and for every pair a mono dialogue
of ten agent and ten customer turns. CER is Whisper base (callqa's transcription settings) on each
line alone; separation is the share of speech frames pyannote (callqa's diarisation, two speakers)
gives the right speaker under the best mapping of its two labels.
"""

from __future__ import annotations

import itertools
import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
OUT = HERE / ".generated" / "voice_probe"
SR = 8000

LINES = [
    "您好，我是泰康人寿的回访专员刘洋，工号三八二六，请问您现在方便接听电话吗？",
    "请问是王建国先生本人吗？麻烦您报一下身份证后四位。",
    "您的保险合同和保单收到了吗？条款和产品说明书都看过了吧？",
    "犹豫期是十五天，从您签收合同的次日起算，期内退保可以全额退还保费。",
    "嗯对，是我本人签的字。",
    "收到了，收到了，我都看过了。",
    "我要投诉，当时说的跟存钱一样，现在我要退保。",
    "好的，谢谢配合，祝您生活愉快，再见。",
]
AGENT_TURNS = [
    "您好，我是泰康人寿的回访专员刘洋，工号三八二六，请问您现在方便接听电话吗？",
    "请问是王建国先生本人吗？麻烦您报一下身份证后四位。",
    "好的，谢谢。请问投保单和风险提示是您本人亲笔签名的吗？",
    "您的保险合同收到了吗？条款和产品说明书都看过了吧？",
    "保险责任和责任免除的内容您都清楚吗？",
    "犹豫期是十五天，从您签收合同的次日起算，期内退保可以全额退还保费。",
    "您的保费是每年五千元，交费期间十年，对吗？",
    "过了犹豫期退保会有一定的损失，这个您清楚吗？",
    "您的联系电话和地址都没有变吧？",
    "好的，谢谢配合，祝您生活愉快，再见。",
]
CUSTOMER_TURNS = [
    "方便，你说吧。", "是我，身份证后四位是五六七八。", "对，是我自己签的，当时业务员在旁边。", "收到了，说明书我大概翻了一下。",
    "嗯，这个业务员跟我讲过了，我知道。", "知道了，十五天是吧，我记住了。", "对的，每年五千，交十年。", "清楚，我不会退的。",
    "没变，还是原来那个号码。", "好的好的，再见。",
]


def make() -> None:
    import soundfile as sf
    from voices import PAIRS, VOICES, fixtures

    OUT.mkdir(parents=True, exist_ok=True)
    tempo = {"baker": 1.6, "baker-low": 1.2, "world": 1.4}  # about the corpus' agent and customer paces
    for name, voice in VOICES.items():
        for i, text in enumerate(LINES):
            clip = fixtures.telephone_line(voice.render(text, tempo.get(name, 1.0)), 0.0)
            sf.write(OUT / f"line_{name}_{i}.wav", clip, SR, subtype="PCM_16")
    for pair_name, pair in PAIRS.items():
        rng = np.random.default_rng(1)
        t, pieces, truth = 0.5, [], []
        for a, c in zip(AGENT_TURNS, CUSTOMER_TURNS, strict=True):
            for speaker, text in (("agent", a), ("customer", c)):
                name = pair.agent if speaker == "agent" else pair.customer
                clip = fixtures.telephone_line(VOICES[name].render(text, tempo.get(name, 1.0)), 0.0)
                s0 = int(t * SR)
                pieces.append((s0, clip))
                truth.append((speaker, s0 / SR, (s0 + len(clip)) / SR))
                t = (s0 + len(clip)) / SR + float(rng.uniform(0.4, 0.9))
        x = np.zeros(int((t + 0.5) * SR))
        for s0, clip in pieces:
            x[s0 : s0 + len(clip)] += clip
        x += fixtures.bandpass(rng.standard_normal(len(x)), SR) * 10 ** (-45 / 20)
        stem = "dialogue_" + pair_name.replace("/", "+")
        sf.write(OUT / f"{stem}.wav", x, SR, subtype="PCM_16")
        (OUT / f"{stem}.json").write_text(json.dumps(truth), encoding="utf-8")
    print(f"probe audio in {OUT}")


def load16k(path: Path) -> np.ndarray:
    import librosa
    import soundfile as sf

    x, sr = sf.read(path, dtype="float64")
    return librosa.resample(x, orig_sr=sr, target_sr=16000).astype(np.float32)


def measure() -> None:
    sys.path.insert(0, str(HERE.parent.parent))
    sys.path.insert(0, str(HERE.parent))
    from audio_accuracy import clean, edit_distance

    from pipelines.settings import PipelineSettings
    from pipelines.speakers import diarize
    from pipelines.transcribe import transcribe

    settings = PipelineSettings.from_env()
    voices = sorted({p.name.split("_")[1] for p in OUT.glob("line_*.wav")})
    print(f"{'voice':10} {'CER':>6}  first line heard as")
    for v in voices:
        errs = total = 0
        first = ""
        for i, text in enumerate(LINES):
            x = np.pad(load16k(OUT / f"line_{v}_{i}.wav"), 8000)
            hyp = "".join(u.text for u in transcribe(x, [(0.0, len(x) / 16000, 0.0)], settings))
            first = first or hyp
            errs += edit_distance(clean(hyp), clean(text))
            total += len(clean(text))
        print(f"{v:10} {errs / total:6.1%}  {first}")
    print(f"\n{'pair (mono dialogue)':22} separation")
    for path in sorted(OUT.glob("dialogue_*.wav")):
        truth = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
        x = load16k(path)
        tracks = diarize(x, settings)
        n = int(len(x) / 16000 * 100) + 1
        ref, hyp = np.zeros(n, int), np.zeros(n, int)
        for speaker, a, b in truth:
            ref[int(a * 100) : int(b * 100)] = 1 if speaker == "agent" else 2
        for k, track in enumerate(tracks):
            for a, b in track.turns:
                hyp[int(a * 100) : int(b * 100)] = k + 1
        speech = ref > 0
        best = 0.0
        for perm in itertools.permutations(range(1, len(tracks) + 1)):
            mapping = np.zeros(len(tracks) + 1, int)
            mapping[list(perm)] = np.arange(1, len(tracks) + 1)
            best = max(best, float(np.mean(mapping[hyp[speech]] == ref[speech])))
        print(f"{path.stem.removeprefix('dialogue_').replace('+', '/'):22} {best:.3f}")


if __name__ == "__main__":
    sys.path.insert(0, str(HERE))
    {"make": make, "measure": measure}[sys.argv[1] if len(sys.argv) > 1 else "measure"]()
