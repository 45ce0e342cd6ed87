"""The audio benchmark's corpus: which calls it holds, where their truth and audio lie.

Pure data access (yaml, json, paths): the generator, the benchmark and the tests share it, and none of
them needs the TTS or the speech models to read it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
CALLS = HERE / "calls.yaml"
TRUTH = HERE / "truth"
COMMITTED = HERE / "audio"
GENERATED = HERE / ".generated"
SAMPLE_RATE = 8000


@dataclass(frozen=True)
class CallSpec:
    """One call of calls.yaml."""

    id: str
    source: str  # the labelled transcript, relative to the repository root
    layout: str  # stereo | mono
    voices: str  # a pair of voices.PAIRS
    codec: str  # pcm | mulaw
    noise_dbfs: float
    committed: bool
    agent_channel: int | None = None

    @property
    def source_path(self) -> Path:
        return ROOT / self.source

    @property
    def labels_path(self) -> Path:
        return self.source_path.parent.parent / "labels.yaml"

    @property
    def call_id(self) -> str:
        return f"{self.id}_{self.source_path.stem}"

    @property
    def audio_name(self) -> str:
        return f"{self.call_id}.flac"

    @property
    def folder(self) -> Path:
        """Where the audio lives: in the repository (committed) or in the git-ignored cache."""
        return COMMITTED if self.committed else GENERATED

    @property
    def audio_path(self) -> Path:
        return self.folder / self.audio_name

    @property
    def truth_path(self) -> Path:
        return TRUTH / f"{self.call_id}.truth.json"

    def source_transcript(self) -> dict:
        return json.loads(self.source_path.read_text(encoding="utf-8"))

    def label(self) -> dict:
        labels = yaml.safe_load(self.labels_path.read_text(encoding="utf-8"))
        return labels[self.source_path.name]

    def truth(self) -> dict:
        return json.loads(self.truth_path.read_text(encoding="utf-8"))


def load_calls(path: Path = CALLS) -> list[CallSpec]:
    spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    calls = []
    for row in spec["calls"]:
        calls.append(
            CallSpec(
                id=str(row["id"]),
                source=str(row["source"]),
                layout=str(row["layout"]),
                voices=str(row["voices"]),
                codec=str(row.get("codec", "pcm")),
                noise_dbfs=float(row.get("noise_dbfs", -45.0)),
                committed=bool(row.get("committed", False)),
                agent_channel=int(row["agent_channel"]) if "agent_channel" in row else None,
            )
        )
    return calls


def select(calls: list[CallSpec], wanted: list[str] | None) -> list[CallSpec]:
    """Calls named by id (AB07), call id, or a slice `start:end` of the list (1-based ids: 1:8)."""
    if not wanted:
        return calls
    out: list[CallSpec] = []
    for w in wanted:
        if ":" in w:
            a, b = w.split(":", 1)
            out += calls[int(a) - 1 if a else 0 : int(b) if b else len(calls)]
        elif w == "committed":
            out += [c for c in calls if c.committed]
        else:
            hit = [c for c in calls if w in (c.id, c.call_id)]
            if not hit:
                raise KeyError(f"no call {w!r} in {CALLS.name}")
            out += hit
    return list(dict.fromkeys(out))
