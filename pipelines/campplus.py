"""CAM++ speaker embedding (3D-Speaker, zh/en, 192-d) as a pyannote.audio Model.

pyannote's SpeakerDiarization pipeline asks its embedding model for `forward(waveforms, weights)`,
where `weights` are per-frame speaker masks used in statistics pooling; this wrapper gives CAM++ that
interface. The network itself comes from `speakerlab` (installed without its numpy<2 pin).

Features follow 3D-Speaker: kaldi fbank, 80 mel bins, 25/10 ms, no dither, per-utterance mean removal.
The pipeline sends each 10 s chunk once per local speaker with a different mask, so the trunk runs once
per distinct chunk and only the cheap pooling is repeated (10x faster on CPU).
"""

from __future__ import annotations

from functools import partial

import torch
import torchaudio.compliance.kaldi as kaldi
from pyannote.audio.core.model import Model
from pyannote.audio.core.task import Problem, Resolution, Specifications, Task
from pyannote.audio.models.blocks.pooling import StatsPool
from speakerlab.models.campplus.DTDNN import CAMPPlus


class CAMPPlusEmbedding(Model):
    def __init__(
        self,
        sample_rate: int = 16000,
        num_channels: int = 1,
        num_mel_bins: int = 80,
        embedding_size: int = 192,
        task: Task | None = None,
    ):
        super().__init__(sample_rate=sample_rate, num_channels=num_channels, task=task)
        self.save_hyperparameters("sample_rate", "num_channels", "num_mel_bins", "embedding_size")
        self.campplus = CAMPPlus(feat_dim=num_mel_bins, embedding_size=embedding_size, memory_efficient=False)
        self.stats_pool = StatsPool()
        self._fbank = partial(kaldi.fbank, num_mel_bins=num_mel_bins, sample_frequency=sample_rate, dither=0.0)

    @property
    def dimension(self) -> int:
        return int(self.hparams.embedding_size)

    def _frames(self, waveforms: torch.Tensor) -> torch.Tensor:
        """(batch, 1, samples) -> frame-level trunk features (batch, channels, frames)."""
        feats = torch.vmap(self._fbank)(waveforms)
        x = (feats - feats.mean(dim=1, keepdim=True)).permute(0, 2, 1)
        x = self.campplus.head(x)
        for name, layer in self.campplus.xvector.named_children():
            if name == "stats":
                break
            x = layer(x)
        return x

    def _embed(self, frames: torch.Tensor, weights: torch.Tensor | None) -> torch.Tensor:
        stats = self.stats_pool(frames, weights=weights)
        dense = self.campplus.xvector.dense
        if stats.dim() == 3:  # (batch, speakers, 2*channels) when weights carry a speaker axis
            b, s, c = stats.shape
            return dense(stats.reshape(b * s, c)).reshape(b, s, -1)
        return dense(stats)

    def forward(self, waveforms: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
        unique: list[int] = []
        inverse: list[int] = []
        for i in range(waveforms.shape[0]):
            if unique and torch.equal(waveforms[i], waveforms[unique[-1]]):
                inverse.append(len(unique) - 1)
            else:
                unique.append(i)
                inverse.append(len(unique) - 1)
        frames = self._frames(waveforms[unique])
        if len(unique) < waveforms.shape[0]:
            frames = frames[torch.tensor(inverse, device=frames.device)]
        return self._embed(frames, weights)


def load_campplus(state_dict: str) -> CAMPPlusEmbedding:
    """The embedding model from 3D-Speaker's own CAM++ state dict, as pyannote's pipeline uses it.

    The specifications are those pyannote records in a checkpoint of a chunk-level embedding (10 s
    chunks); the weights must fit the network exactly.
    """
    model = CAMPPlusEmbedding()
    weights = torch.load(state_dict, map_location="cpu", weights_only=True)
    model.campplus.load_state_dict(weights, strict=True)
    model.specifications = Specifications(problem=Problem.REPRESENTATION, resolution=Resolution.CHUNK, duration=10.0)
    return model.eval()
