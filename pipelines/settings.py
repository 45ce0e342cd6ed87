"""Settings of the speech pipeline: models, decoding, limits, concurrency.

Every field can be set from the environment (CALLQA_<FIELD>, upper case) or the command line. The
fingerprint of the settings that change results is part of every cache key, so changing the model or
the beam size re-does the work and changing the concurrency does not.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field, fields, replace
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def default_models_dir() -> Path:
    """models/ of a source checkout; for an installed package (no pyproject.toml beside the code), the
    user's data folder, never the site-packages folder."""
    if (ROOT / "pyproject.toml").is_file():
        return ROOT / "models"
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "callqa" / "models"


MODELS_DIR = Path(os.environ.get("CALLQA_MODELS") or default_models_dir())

ASR_LEXICON = ROOT / "lexicons" / "asr.yaml"


@lru_cache(maxsize=1)
def asr_lexicon() -> dict[str, object]:
    """The recogniser's prompt, hotwords and hallucination list (lexicons/asr.yaml)."""
    import yaml

    with ASR_LEXICON.open(encoding="utf-8") as fh:
        return yaml.safe_load(fh) or {}

# fields that do not change a call's result, so they stay out of the cache keys
_NOT_IN_FINGERPRINT = {"concurrency", "cpu_threads", "max_duration_s", "min_duration_s", "thread_wait"}


@dataclass(frozen=True)
class PipelineSettings:
    # speech recognition (faster-whisper); a hub name such as "large-v3" works where a hub is reachable
    whisper_model: str = str(MODELS_DIR / "whisper-base-ct2")
    device: str = "cpu"
    compute_type: str = "int8"
    beam_size: int = 5
    cpu_threads: int = 0  # 0: CTranslate2 decides
    # how idle OpenMP threads wait: "spin", "passive" or "auto" (spin on an idle machine; runtime.py says why)
    thread_wait: str = "auto"
    language: str = "zh"
    # decoding options that matter on telephone audio (benchmarks/decoding_options.py measures them)
    # decode again, sampling at higher temperatures, when a window fails its checks: off, because sampling
    # makes the same recording come out differently run to run, for no gain measured on telephone calls
    temperature_fallback: bool = False
    # the previous window's text as context: 28% agent CER on the benchmark's calls against 32% without
    condition_on_previous_text: bool = True
    no_speech_threshold: float = 0.6
    log_prob_threshold: float = -1.0
    compression_ratio_threshold: float = 2.4
    hallucination_filter: bool = True  # drop subtitle credits, repetition loops and prompt echoes (asr.yaml)
    hear_missed_speech: bool = True  # decode on its own each stretch of a track's signal the first pass left wordless
    # >0: the first pass by faster-whisper's BatchedInferencePipeline, this many voice-activity chunks of a
    # track decoded at once (each chunk without the previous one's text); 0: one window after another
    batch_size: int = 0
    vad_filter: bool = True
    vad_threshold: float = 0.35  # speech probability of the voice-activity detector (0.5 loses short answers)
    vad_min_silence_ms: int = 2000  # a pause at least this long separates two stretches of speech
    vad_speech_pad_ms: int = 400  # kept around each stretch
    initial_prompt: str = field(default_factory=lambda: str(asr_lexicon().get("initial_prompt", "")))
    hotwords: str = field(default_factory=lambda: str(asr_lexicon().get("hotwords", "")))
    # speaker diarisation of mono recordings: "fast" (two_speakers.py, made for two-party calls; used when
    # num_speakers is 2) or "pyannote" (the full pipeline of diarization_config, any number of speakers)
    diarization: str = "fast"
    # the pyannote.audio pipeline config, loaded from disk; it also names the CAM++ weights "fast" uses
    diarization_config: str = str(MODELS_DIR / "pyannote" / "config.yaml")
    num_speakers: int = 2
    # recordings outside these limits are rejected with a clear error
    min_duration_s: float = 1.0
    max_duration_s: float = 4 * 3600.0
    silence_dbfs: float = -55.0  # a recording whose loudest second is below this is silent
    # calls processed at once
    concurrency: int = 1
    extra: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls, **overrides: object) -> PipelineSettings:
        values: dict[str, object] = {}
        defaults = cls()
        for f in fields(cls):
            raw = os.environ.get(f"CALLQA_{f.name.upper()}")
            if raw is None or f.name == "extra":
                continue
            default = getattr(defaults, f.name, None)
            if isinstance(default, bool):
                values[f.name] = raw.lower() in ("1", "true", "yes", "on")
            elif isinstance(default, int):
                values[f.name] = int(raw)
            elif isinstance(default, float):
                values[f.name] = float(raw)
            else:
                values[f.name] = raw
        values.update({k: v for k, v in overrides.items() if v is not None})
        return replace(cls(), **values)  # type: ignore[arg-type]

    def fingerprint(self, *stages: str) -> str:
        """The settings that change results, and the code of `stages` (module names of pipelines/; all the
        stages when none are named): a transcript made by other code is made again, while a change to
        assembling reuses the cached recognition."""
        relevant = {k: v for k, v in asdict(self).items() if k not in _NOT_IN_FINGERPRINT}
        relevant["code"] = code_hash(stages or STAGES)
        return hashlib.sha256(json.dumps(relevant, sort_keys=True).encode()).hexdigest()[:16]


# the modules whose code shapes a transcript
STAGES = ("audio", "speakers", "campplus", "campplus_onnx", "two_speakers", "transcribe", "assemble", "roles", "measures")


@lru_cache(maxsize=32)
def code_hash(stages: tuple[str, ...]) -> str:
    h = hashlib.sha256()
    for name in sorted(stages):
        h.update(name.encode() + b"\0" + (Path(__file__).parent / f"{name}.py").read_bytes())
    return h.hexdigest()[:12]
