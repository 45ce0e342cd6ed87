"""How the speech process uses the machine: glibc's allocator, OpenMP's waiting threads, model threads.

Set once, where the process starts (`callqa run`, and the transcription flow for any other caller),
before CTranslate2 or torch is loaded; none of it changes a result, only the time it takes.

- **Allocator.** PyTorch and CTranslate2 allocate and free the same large buffers over and over; with
  glibc's defaults each thread gets its own arena and freed memory goes back to the system and is
  faulted in again. One arena, a fixed mmap threshold (glibc's largest, 32 MiB) and a high trim
  threshold keep it in the process (the same as MALLOC_ARENA_MAX=1, MALLOC_MMAP_THRESHOLD_=33554432,
  MALLOC_TRIM_THRESHOLD_=536870912, set through mallopt because the environment is read before Python
  starts). Measured: the same diarisation output with 20-40 % less CPU time.
- **Waiting threads.** CTranslate2 and torch each ship a GNU OpenMP runtime. Between parallel regions its
  threads spin for about 3 ms before they sleep, unless it manages more threads than there are CPUs: then
  it spins 100 times only. A thread that loads a Whisper model keeps a pool of OpenMP threads for as long
  as it lives, which tips that count: the flow's worker thread, which loads the model and goes on
  transcribing, ran every call in the short-spin mode (about 35 % slower on an idle 2-core machine),
  while a model loaded in a thread that had exited ran in the long-spin mode. So models are built in a
  thread of their own that exits (`in_own_thread`), and the waiting is chosen explicitly by the
  `thread_wait` setting: "spin" (fastest when callqa has the cores to itself), "passive" (threads sleep
  at once: on a machine busy with other work, spinning threads take the cores the working ones need, and
  one call took 10-15 times as long), or "auto": spin when the machine is idle (load average below half
  its cores) and calls are processed one at a time, else passive. OMP_WAIT_POLICY or GOMP_SPINCOUNT set
  by the user win over all three.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

# mallopt parameters (malloc.h)
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8
ALLOCATOR = {M_ARENA_MAX: 1, M_MMAP_THRESHOLD: 32 << 20, M_TRIM_THRESHOLD: 512 << 20}

GOMP_DEFAULT_SPINCOUNT = "300000"  # libgomp's own default (about 3 ms), stated so no thread layout can lower it
THREAD_WAIT = ("auto", "spin", "passive")

_done: dict[str, str] = {}


def tune_allocator() -> bool:
    """glibc's allocator as described above; False where the C library is not glibc."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    return all(mallopt(param, value) == 1 for param, value in ALLOCATOR.items())


def machine_busy() -> bool:
    """Other work holds at least half the cores (1-minute load average)."""
    try:
        return os.getloadavg()[0] >= 0.5 * (os.cpu_count() or 1)
    except OSError:
        return False


def wait_policy(thread_wait: str, concurrency: int = 1) -> str:
    """"spin" or "passive" for a `thread_wait` setting."""
    if thread_wait not in THREAD_WAIT:
        raise ValueError(f"thread_wait setting {thread_wait!r}: expected one of {', '.join(THREAD_WAIT)}")
    if thread_wait != "auto":
        return thread_wait
    return "passive" if concurrency > 1 or machine_busy() else "spin"


def set_thread_wait(policy: str) -> None:
    """Tell the OpenMP runtimes how threads wait; they read it when they load, so this comes first."""
    if "OMP_WAIT_POLICY" in os.environ or "GOMP_SPINCOUNT" in os.environ:
        return  # the user's own choice
    if policy == "passive":
        os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
    else:
        os.environ["GOMP_SPINCOUNT"] = GOMP_DEFAULT_SPINCOUNT


def prepare(thread_wait: str = "auto", concurrency: int = 1) -> dict[str, str]:
    """Allocator and thread waiting for this process, once (later calls change nothing); returns what
    was chosen."""
    if not _done:
        policy = wait_policy(thread_wait, concurrency)
        set_thread_wait(policy)
        _done["allocator"] = "tuned" if tune_allocator() else "default"
        _done["thread_wait"] = os.environ.get("OMP_WAIT_POLICY", "").lower() or (
            "spin" if os.environ.get("GOMP_SPINCOUNT", "") not in ("", "0") else "passive")
    return dict(_done)


def in_own_thread(build: Callable[[], T]) -> T:
    """`build()` run in a new thread that exits when it returns: the OpenMP threads a model's loading
    starts end with it, so whichever thread later uses the model, it runs the same way."""
    box: dict[str, object] = {}

    def run() -> None:
        try:
            box["value"] = build()
        except BaseException as exc:  # handed to the caller's thread
            box["error"] = exc

    worker = threading.Thread(target=run, name="callqa-model-load")
    worker.start()
    worker.join()
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box["value"]  # type: ignore[return-value]
