"""Building the diarisation pipeline from local files: pyannote's SpeakerDiarization, made in code.

pyannote.audio 4.0's constructor loads a PLDA whatever the clustering, but only VBx clustering uses
one; the agglomerative clustering callqa runs never does. Rather than ship PLDA files trained for
another embedding, the pipeline is given a stand-in that refuses to be used. The models are passed as
loaded objects: the segmentation checkpoint as published, CAM++ from its own state dict
(pipelines.campplus). A config that names a `plda` is a full pyannote pipeline of the user's own and
goes to pyannote's loader unchanged.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

MODEL_DIR = "$model/"
PIPELINE = "pyannote.audio.pipelines.SpeakerDiarization"
NEEDS_PLDA = "VBxClustering"


class DiarizationConfigError(ValueError):
    """A diarisation config that cannot be built; the message names the file."""


def _no_plda() -> Any:
    from pyannote.audio.core.plda import PLDA

    class NoPLDA(PLDA):
        """Stands where pyannote's constructor wants a PLDA; agglomerative clustering never calls it."""

        def __init__(self) -> None:  # no files: nothing to load
            pass

        def __call__(self, embeddings: Any) -> Any:
            raise RuntimeError("no PLDA loaded: VBx clustering needs one (name `plda` in the diarization config)")

    return NoPLDA()


def read_config(config: Path) -> dict[str, Any]:
    import yaml

    if not config.is_file():
        raise DiarizationConfigError(f"diarization config not found: {config} (run setup.sh to fetch the models)")
    try:
        data = yaml.safe_load(config.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise DiarizationConfigError(f"{config}: not a readable YAML file: {exc}".splitlines()[0]) from None
    if not isinstance(data, dict) or not isinstance(data.get("pipeline"), dict):
        raise DiarizationConfigError(f"{config}: expected a `pipeline:` mapping with `name` and `params`")
    return data


def _path(value: Any, folder: Path, key: str, config: Path) -> Path:
    if not isinstance(value, str):
        raise DiarizationConfigError(f"{config}: pipeline.params.{key}: expected a file path, got {value!r}")
    path = folder / value[len(MODEL_DIR):] if value.startswith(MODEL_DIR) else Path(value)
    if not path.is_file():
        raise DiarizationConfigError(f"{config}: pipeline.params.{key}: {path} not found (run setup.sh to fetch the models)")
    return path


def embedding_weights(config: str | Path) -> Path:
    """The CAM++ state dict `config` names: the fast two-speaker path (pipelines.two_speakers) uses the
    same embedding as the pyannote pipeline."""
    config = Path(config)
    params = read_config(config)["pipeline"].get("params") or {}
    return _path(params.get("embedding"), config.parent, "embedding", config)


def load_pipeline(config: str | Path) -> Any:
    """The SpeakerDiarization pipeline of `config`, instantiated with its `params`, in eval mode."""
    from pyannote.audio.pipelines import SpeakerDiarization

    config = Path(config)
    data = read_config(config)
    params = dict(data["pipeline"].get("params") or {})
    if "plda" in params:
        from pyannote.audio import Pipeline

        return Pipeline.from_pretrained(config)
    name = data["pipeline"].get("name")
    if name != PIPELINE:
        raise DiarizationConfigError(f"{config}: pipeline.name {name!r}: only {PIPELINE} is built without a PLDA")
    if params.get("clustering") == NEEDS_PLDA:
        raise DiarizationConfigError(f"{config}: {NEEDS_PLDA} needs a PLDA: name its folder as pipeline.params.plda")
    from pyannote.audio.pipelines.utils import get_model

    from .campplus import load_campplus

    folder = config.parent
    segmentation = get_model(str(_path(params.pop("segmentation", None), folder, "segmentation", config)))
    embedding = load_campplus(str(_path(params.pop("embedding", None), folder, "embedding", config)))
    try:
        pipeline = SpeakerDiarization(segmentation=segmentation, embedding=embedding, plda=_no_plda(), **params)
        pipeline.instantiate(data.get("params") or {})
    except (TypeError, ValueError) as exc:
        raise DiarizationConfigError(f"{config}: {exc}") from None
    return pipeline
