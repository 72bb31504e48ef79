"""Run jobs in spawned worker processes, and survive a worker that dies.

A worker killed outright (the kernel's out-of-memory killer, a crash in a native library) breaks a
process pool. multiprocessing.Pool would wait for its lost task for ever, which hangs a cron job;
ProcessPoolExecutor reports the break instead. The unfinished jobs then run again: the few that
may have been in flight one at a time, each in a fresh worker, so the job that kills its worker is
found and reported through `on_crash`, and the rest of the batch goes on in parallel.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import multiprocessing
import os
import signal
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import TypeVar

Job = TypeVar("Job")
Result = TypeVar("Result")


PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _start_worker(parent: int, initializer: Callable[..., None], initargs: tuple) -> None:
    """Ask Linux to send this worker SIGTERM when its parent dies (even by SIGKILL, which the parent
    cannot pass on), so that no worker goes on writing outputs outside the run's lock; then load."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(0)
    initializer(*initargs)


def _stop(pool: ProcessPoolExecutor) -> None:
    """Cancel what has not started and end the workers now (they unwind their current job)."""
    processes = list((getattr(pool, "_processes", None) or {}).values())  # no public API before Python 3.14
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        process.terminate()
    for process in processes:
        process.join()


def run_parallel(
    jobs: Sequence[Job],
    task: Callable[[Job], Result],
    workers: int,
    initializer: Callable[..., None],
    initargs: tuple,
    on_result: Callable[[Job, Result], bool],
    on_crash: Callable[[Job], Result],
) -> None:
    """Call `on_result(job, task(job))` for every job, in completion order, until it returns False.

    `task` and `initializer` run in worker processes (spawned, so they must be importable). An
    exception raised by `task` propagates and stops the batch; a worker that dies does not.
    """
    context = multiprocessing.get_context("spawn")
    remaining = list(jobs)  # in submission order: workers take jobs in this order
    suspects = 0  # how many of the first remaining jobs may have killed a worker
    while remaining:
        isolated = suspects > 0
        batch = remaining[:1] if isolated else remaining
        size = 1 if isolated else min(workers, len(remaining))
        pool = ProcessPoolExecutor(
            size, mp_context=context, initializer=_start_worker, initargs=(os.getpid(), initializer, initargs)
        )
        try:
            pending = {pool.submit(task, job): job for job in batch}
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    job = pending.pop(future)
                    result = future.result()
                    remaining.remove(job)
                    if not on_result(job, result):
                        _stop(pool)
                        return
            pool.shutdown(wait=True)
            suspects = max(0, suspects - 1) if isolated else 0
        except BrokenProcessPool:
            _stop(pool)
            if isolated:
                job = remaining.pop(0)
                suspects -= 1
                if not on_result(job, on_crash(job)):
                    return
            else:
                suspects = min(size + 1, len(remaining))  # those workers' jobs, and the next one queued
        except BaseException:
            _stop(pool)
            raise
