"""CAM++ for the two-speaker path: on ONNX Runtime, without torch at run time (torch where it must).

torch takes a second to import on a warm machine, maps half a gigabyte (its CUDA build maps the CUDA
libraries even on a CPU), and runs CAM++'s convolutions about three times slower on two cores than ONNX
Runtime, which faster-whisper already brings for its voice-activity detector. So the network is exported
once, from the same state dict, into two ONNX graphs: the trunk (filter-bank features to frame-level
features) and the dense layer after the statistics pooling (pooled statistics to an embedding); the
pooling itself is plain arithmetic (two_speakers.window_stats). The features are Kaldi's filter bank as
3D-Speaker computes them (torchaudio.compliance.kaldi.fbank: 25/10 ms Povey windows, pre-emphasis 0.97, 80
mel bins from 20 Hz, log power, no dither), here in numpy. Frame features match the torch network's to
about 1e-4 (tests/test_two_speakers.py).

The export needs torch and onnx, and is done by `callqa models` (setup.sh) or, when the graphs are
missing, on first use: next to the state dict where that folder is writable, else in the user's cache
folder. The graphs' names carry the state dict's sha256, so new weights are never run through old graphs.
Where no graph can be had, the two-speaker path runs the network in torch (two_speakers.CampPlus).
"""

from __future__ import annotations

import os
import threading
from functools import lru_cache
from pathlib import Path

import numpy as np

SAMPLE_RATE = 16_000
FRAME = 400  # 25 ms
SHIFT = 160  # 10 ms
FFT = 512  # the frame padded to a power of two
MEL_BINS = 80
LOW_HZ = 20.0
PREEMPHASIS = 0.97
OPSET = 17

_EXPORT_LOCK = threading.Lock()


# ------------------------------------------------------------------------------------ features


def _mel(hz: np.ndarray | float) -> np.ndarray:
    return 1127.0 * np.log(1.0 + np.asarray(hz, dtype=np.float64) / 700.0)


@lru_cache(maxsize=1)
def mel_banks() -> np.ndarray:
    """Kaldi's triangular mel filters (FFT // 2 + 1, MEL_BINS), on the mel scale, highest bin left out."""
    bins = np.arange(FFT // 2)
    freq_mel = _mel(bins * SAMPLE_RATE / FFT)
    low, high = _mel(LOW_HZ), _mel(SAMPLE_RATE / 2)
    delta = (high - low) / (MEL_BINS + 1)
    left = low + np.arange(MEL_BINS)[:, None] * delta
    centre, right = left + delta, left + 2 * delta
    up = (freq_mel[None, :] - left) / (centre - left)
    down = (right - freq_mel[None, :]) / (right - centre)
    banks = np.maximum(0.0, np.minimum(up, down))
    return np.pad(banks, ((0, 0), (0, 1))).T.astype(np.float32)


@lru_cache(maxsize=1)
def povey_window() -> np.ndarray:
    n = np.arange(FRAME)
    return ((0.5 - 0.5 * np.cos(2 * np.pi * n / (FRAME - 1))) ** 0.85).astype(np.float32)


def fbank(samples: np.ndarray) -> np.ndarray:
    """Log mel filter-bank energies (frames, MEL_BINS) of 16 kHz samples, Kaldi's way (see the module's
    doc); no frame when the samples are shorter than one window."""
    import scipy.fft

    x = np.ascontiguousarray(samples, dtype=np.float32).reshape(-1)
    n = 0 if len(x) < FRAME else 1 + (len(x) - FRAME) // SHIFT
    if n == 0:
        return np.zeros((0, MEL_BINS), dtype=np.float32)
    frames = np.lib.stride_tricks.sliding_window_view(x, FRAME)[::SHIFT][:n]
    frames = frames - frames.mean(axis=1, keepdims=True)
    emphasised = np.empty_like(frames)  # the first sample's "previous" is itself, as in Kaldi
    emphasised[:, 1:] = frames[:, 1:] - PREEMPHASIS * frames[:, :-1]
    emphasised[:, 0] = frames[:, 0] * (1.0 - PREEMPHASIS)
    emphasised *= povey_window()
    spectrum = scipy.fft.rfft(emphasised, n=FFT, axis=1)  # float32 in, complex64 out
    energies = (spectrum.real**2 + spectrum.imag**2) @ mel_banks()
    return np.log(np.maximum(energies, np.finfo(np.float32).eps))


# ------------------------------------------------------------------------------------ the network


class CampPlus:
    """CAM++ (3D-Speaker, 192-d) straight from its state dict, split at the statistics pooling so the
    network runs once over a stretch of audio and any window of it is pooled afterwards."""

    def __init__(self, state_dict: str | Path):
        import torch
        from speakerlab.models.campplus.DTDNN import CAMPPlus

        self.torch = torch
        self.net = CAMPPlus(feat_dim=80, embedding_size=192, memory_efficient=False)
        self.net.load_state_dict(torch.load(str(state_dict), map_location="cpu", weights_only=True), strict=True)
        self.net.eval()
        self.layers = [layer for name, layer in self.net.xvector.named_children() if name not in ("stats", "dense")]

    def frames(self, samples: np.ndarray) -> np.ndarray:
        """Frame-level features (frames, channels), one every 20 ms, of 16 kHz samples."""
        import torchaudio.compliance.kaldi as kaldi

        torch = self.torch
        wav = torch.from_numpy(np.ascontiguousarray(samples, dtype=np.float32))
        min_len = int(0.3 * SAMPLE_RATE)  # fbank and the strided layers need a few frames
        if len(wav) < min_len:
            wav = torch.nn.functional.pad(wav, (0, min_len - len(wav)))
        with torch.inference_mode():
            feats = kaldi.fbank(wav[None, :], num_mel_bins=80, sample_frequency=SAMPLE_RATE, dither=0.0)
            x = (feats - feats.mean(dim=0, keepdim=True)).T[None]
            x = self.net.head(x)
            for layer in self.layers:
                x = layer(x)
        return x[0].T.numpy()

    def embed(self, stats: np.ndarray) -> np.ndarray:
        """Embeddings of pooled statistics (n, 2 * channels): the network's last layer."""
        torch = self.torch
        with torch.inference_mode():
            return self.net.xvector.dense(torch.from_numpy(stats.astype(np.float32))).numpy()


# ------------------------------------------------------------------------------------ graphs


def _sha256(path: Path) -> str:
    from .audio import file_sha256

    return file_sha256(path)


def graph_paths(state_dict: Path, folder: Path | None = None) -> tuple[Path, Path]:
    """Where the trunk and dense graphs of `state_dict` live (in `folder`, default beside it)."""
    tag = _sha256(state_dict)[:16]
    where = folder or state_dict.parent
    return where / f"{state_dict.stem}.{tag}.trunk.onnx", where / f"{state_dict.stem}.{tag}.dense.onnx"


def cache_folder() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "callqa" / "campplus"


def export(state_dict: Path, trunk: Path, dense: Path) -> None:
    """Write both graphs of the network in `state_dict` (needs torch, speakerlab and onnx); each file
    appears whole or not at all."""
    import torch

    net = CampPlus(state_dict)

    class Trunk(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.head = net.net.head
            self.layers = torch.nn.ModuleList(net.layers)

        def forward(self, feats: torch.Tensor) -> torch.Tensor:  # (1, MEL_BINS, T), mean removed
            x = self.head(feats)
            for layer in self.layers:
                x = layer(x)
            return x

    trunk.parent.mkdir(parents=True, exist_ok=True)
    for module, example, path, names, axes in (
        (Trunk().eval(), torch.zeros(1, MEL_BINS, 200), trunk, (["feats"], ["frames"]),
         {"feats": {2: "time"}, "frames": {2: "steps"}}),
        (net.net.xvector.dense.eval(), torch.zeros(4, 2 * 512), dense, (["stats"], ["embedding"]),
         {"stats": {0: "n"}, "embedding": {0: "n"}}),
    ):
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            with torch.inference_mode():
                torch.onnx.export(module, (example,), str(tmp), input_names=names[0], output_names=names[1],
                                  dynamic_axes=axes, opset_version=OPSET, dynamo=False)
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)


def ensure_graphs(state_dict: str | Path) -> tuple[Path, Path] | None:
    """The two graphs of `state_dict`, exported now if missing (beside it, else in the cache folder);
    None when they cannot be had (no torch or onnx, nowhere to write)."""
    state_dict = Path(state_dict)
    with _EXPORT_LOCK:
        for folder in (state_dict.parent, cache_folder()):
            trunk, dense = graph_paths(state_dict, folder)
            if trunk.is_file() and dense.is_file():
                return trunk, dense
        for folder in (state_dict.parent, cache_folder()):
            trunk, dense = graph_paths(state_dict, folder)
            try:
                export(state_dict, trunk, dense)
                return trunk, dense
            except (OSError, ImportError):
                continue
    return None


class CampPlusOnnx:
    """CAM++ split at the statistics pooling, on ONNX Runtime: `frames` and `embed` as
    two_speakers.CampPlus gives them."""

    def __init__(self, trunk: Path, dense: Path, threads: int = 0):
        import onnxruntime as ort

        def session(path: Path, threads: int) -> ort.InferenceSession:
            options = ort.SessionOptions()
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
            options.log_severity_level = 3
            return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

        # each session keeps a pool of threads that spin between runs; the dense layer is a single small
        # product, and a second pool spinning beside the trunk's took its cores (twice the time)
        self.trunk = session(trunk, threads or min(4, os.cpu_count() or 1))
        self.dense = session(dense, 1)

    def frames(self, samples: np.ndarray) -> np.ndarray:
        """Frame-level features (frames, channels), one every 20 ms, of 16 kHz samples."""
        x = np.ascontiguousarray(samples, dtype=np.float32)
        min_len = int(0.3 * SAMPLE_RATE)  # fbank and the strided layers need a few frames
        if len(x) < min_len:
            x = np.pad(x, (0, min_len - len(x)))
        feats = fbank(x)
        feats = (feats - feats.mean(axis=0, keepdims=True)).T[None].astype(np.float32)
        return self.trunk.run(None, {"feats": feats})[0][0].T

    def embed(self, stats: np.ndarray) -> np.ndarray:
        """Embeddings of pooled statistics (n, 2 * channels): the network's last layer."""
        return self.dense.run(None, {"stats": np.ascontiguousarray(stats, dtype=np.float32)})[0]
