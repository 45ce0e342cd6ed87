"""Peak memory of loading a recording (stage 1: decode, validate, resample to 16 kHz), whatever the file.

Each measurement runs in a fresh child process and reports its maximum resident set size, so nothing
one load leaves behind counts against the next. In the same run:

- baseline: a child that imports everything loading needs and loads nothing;
- whole-file: the way recordings used to be loaded (every channel decoded at the file's own rate into
  one array, then resampled in one piece), for comparison;
- streaming: `pipelines.audio.load_audio` as it is now (header checked first, two channels kept,
  resampled block by block into an array sized from the header).

Files (written to a temporary folder, removed afterwards): an 8-channel 96 kHz FLAC of 10 minutes of
near-silence (a few hundred KB on disk, 2.2 GB once decoded whole), a 4-hour 8 kHz mono call at the length
limit, and a 5-hour one over it.

    python benchmarks/audio_memory.py [--hours 4] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parent.parent

CHILD = r"""
import json, resource, sys, time
mode, path = sys.argv[1], sys.argv[2]
import numpy as np, soundfile as sf, soxr, librosa  # noqa: F401  what every mode imports
from pipelines.audio import AudioError, load_audio
from pipelines.settings import PipelineSettings
settings = PipelineSettings()
outcome = ""
t0 = time.perf_counter()
if mode == "whole":
    with sf.SoundFile(path) as f:
        data = f.read(dtype="float32", always_2d=True).T
        rate = f.samplerate
    kept = data[:2]
    samples = librosa.resample(kept, orig_sr=rate, target_sr=16000, res_type="soxr_hq").astype(np.float32)
    outcome = f"decoded: {samples.shape[0]} channels, {samples.shape[1] / 16000 / 3600:.2f} h at 16 kHz"
elif mode == "stream":
    try:
        audio = load_audio(path, settings, sha256="-")
        outcome = f"loaded: {audio.samples.shape[0]} channels, {audio.info.duration / 3600:.2f} h"
    except AudioError as exc:
        outcome = f"refused: {exc}"
seconds = time.perf_counter() - t0
print(json.dumps({"maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "seconds": seconds,
                  "outcome": outcome}))
"""


def measure(mode: str, path: Path | None) -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-c", CHILD, mode, str(path or "-")], capture_output=True, text=True,
                          env=env, timeout=3600)
    if proc.returncode != 0:
        return {"maxrss_kb": 0, "seconds": 0.0, "outcome": "child failed: " + proc.stderr.strip().splitlines()[-1]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def write_long(path: Path, seconds: float, rate: int, channels: int, level: float) -> None:
    """A long recording written ten seconds at a time (a tone with a little noise, or near-silence)."""
    rng = np.random.default_rng(0)
    block = rate * 10
    subtype = "PCM_16"
    with sf.SoundFile(str(path), "w", samplerate=rate, channels=channels, subtype=subtype) as f:
        done = 0
        total = int(seconds * rate)
        while done < total:
            n = min(block, total - done)
            t = (np.arange(n) + done) / rate
            x = level * np.sin(2 * np.pi * 440 * t)[:, None] + 0.002 * level * rng.standard_normal((n, channels))
            f.write(np.repeat(x, channels, axis=1) if x.shape[1] != channels else x)
            done += n


def mb(kb: int) -> str:
    return f"{kb / 1024:,.0f} MiB"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hours", type=float, default=4.0, help="length of the long call (the limit is 4 h)")
    ap.add_argument("--keep", type=Path, default=None, help="write the test files here and keep them")
    args = ap.parse_args()
    folder = Path(args.keep or tempfile.mkdtemp(prefix="callqa-audio-mem-"))
    folder.mkdir(parents=True, exist_ok=True)
    files = {
        "8-channel 96 kHz FLAC, 10 min, near-silent": (folder / "multi_96k.flac", 600, 96000, 8, 0.0005),
        f"{args.hours:g} h mono 8 kHz WAV": (folder / "long.wav", args.hours * 3600, 8000, 1, 0.3),
        "5 h mono 8 kHz FLAC (over the 4 h limit)": (folder / "too_long.flac", 5 * 3600, 8000, 1, 0.3),
    }
    t0 = time.perf_counter()
    # written by a separate interpreter: a parent grown by writing them would lend its size to the
    # children's maximum resident set (the kernel counts a forked child's inherited pages)
    spawn = multiprocessing.get_context("spawn")
    for path, seconds, rate, channels, level in files.values():
        if not path.exists():
            writer = spawn.Process(target=write_long, args=(path, seconds, rate, channels, level))
            writer.start()
            writer.join()
    print(f"test files written in {time.perf_counter() - t0:.0f} s to {folder}")
    base = measure("baseline", None)
    print(f"\nbaseline (a child importing numpy, soundfile, soxr, librosa and the pipeline): {mb(base['maxrss_kb'])}")
    print(f"\n{'file':<44} {'on disk':>9} {'how':<10} {'peak RSS':>10} {'over base':>10} {'x base':>7} {'s':>6}  outcome")
    for label, (path, *_rest) in files.items():
        size = f"{path.stat().st_size / 1e6:,.1f} MB"
        for mode in ("whole", "stream"):
            if mode == "whole" and "over the" in label:
                continue  # the old way decoded it whole too; the 4 h file shows that cost already
            r = measure(mode, path)
            print(f"{label:<44} {size:>9} {mode:<10} {mb(r['maxrss_kb']):>10} "
                  f"{mb(r['maxrss_kb'] - base['maxrss_kb']):>10} {r['maxrss_kb'] / base['maxrss_kb']:>6.1f}x "
                  f"{r['seconds']:>6.1f}  {r['outcome']}", flush=True)
    if args.keep is None:
        for path, *_rest in files.values():
            path.unlink(missing_ok=True)
        folder.rmdir()
    kept = 4 * 3600 * 16000 * 4 / 2**20
    print(f"\nfor scale: the 16 kHz float32 samples of a 4 h mono call, which the stages after loading read, are "
          f"{kept:,.0f} MiB by themselves (twice that for stereo)")


if __name__ == "__main__":
    main()
