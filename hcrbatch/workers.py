"""Run jobs in spawned worker processes, and survive a worker that dies; or in threads of this process.

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
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Executor, ProcessPoolExecutor, ThreadPoolExecutor, wait
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


def _hand_out(
    pool: Executor,
    source: deque,
    queue: deque,
    pending: dict,
    in_flight: int,
    task: Callable[[Job], Result],
    on_result: Callable[[Job, Result], bool],
    then: Callable[[Job, Result], Sequence[Job]],
    once: bool = False,
) -> bool:
    """Jobs from `source` submitted to `pool`, `in_flight` at most (`pending`: future -> job), their
    results handed to `on_result` in completion order and the jobs `then` names put at the front of
    `queue`; after the first results only with `once`. False where `on_result` stopped the batch. A
    job whose future raises stays in `pending` (a broken pool: the caller knows what it had taken)."""
    while True:
        while source and len(pending) < in_flight:
            job = source.popleft()
            pending[pool.submit(task, job)] = job
        if not pending:
            return True
        done, _ = wait(pending, return_when=FIRST_COMPLETED)
        for future in done:
            result = future.result()
            job = pending.pop(future)
            if not on_result(job, result):
                return False
            queue.extendleft(reversed(then(job, result)))
        if once:
            return True


def run_parallel(
    jobs: Sequence[Job],
    task: Callable[[Job], Result],
    workers: int,
    initializer: Callable[..., None],
    initargs: tuple,
    on_result: Callable[[Job, Result], bool],
    on_crash: Callable[[Job], Result],
    then: Callable[[Job, Result], Sequence[Job]] = lambda job, result: (),
) -> None:
    """Call `on_result(job, task(job))` for every job, in completion order, until it returns False.
    `then(job, result)` names jobs that a result makes ready (a document's pages read, its outputs
    to write); they run before the jobs still queued, so a document is finished soon after its pages.

    `task` and `initializer` run in worker processes (spawned, so they must be importable). An
    exception raised by `task` propagates and stops the batch; a worker that dies does not. No
    more jobs are handed to the pool than its workers hold (one each and one queued), so those
    are the jobs a dead worker may have taken, and each of them then runs alone.
    """
    context = multiprocessing.get_context("spawn")
    queue = deque(jobs)
    suspects: deque[Job] = deque()  # in flight when a worker died: each runs alone in a fresh worker
    while queue or suspects:
        isolated = bool(suspects)
        source = suspects if isolated else queue
        size = 1 if isolated else min(workers, len(queue))
        in_flight = 1 if isolated else size + 1  # what ProcessPoolExecutor itself hands its workers
        pool = ProcessPoolExecutor(
            size, mp_context=context, initializer=_start_worker, initargs=(os.getpid(), initializer, initargs)
        )
        pending: dict = {}
        try:
            if not _hand_out(pool, source, queue, pending, in_flight, task, on_result, then, once=isolated):
                _stop(pool)
                return
            pool.shutdown(wait=True)
        except BrokenProcessPool:
            _stop(pool)
            if isolated:
                (job,) = pending.values()
                result = on_crash(job)
                if not on_result(job, result):
                    return
                queue.extendleft(reversed(then(job, result)))
            else:
                suspects.extend(pending.values())
        except BaseException:
            _stop(pool)
            raise


def run_threaded(
    jobs: Sequence[Job],
    task: Callable[[Job], Result],
    threads: int,
    on_result: Callable[[Job, Result], bool],
    then: Callable[[Job, Result], Sequence[Job]] = lambda job, result: (),
) -> None:
    """As `run_parallel`, but `threads` jobs at a time in this process, sharing its models: the
    networks, OpenCV and NumPy let go of Python's lock while they compute, so one TensorFlow
    runtime (about 1 GiB) keeps several cores busy where a process each would hold one each. An
    exception raised by `task` stops the batch; the jobs already running finish first (their
    outputs are written whole or not at all), as they do when `on_result` returns False."""
    queue = deque(jobs)
    with ThreadPoolExecutor(threads, thread_name_prefix="hcrbatch-reader") as pool:
        pending: dict = {}
        try:
            _hand_out(pool, queue, queue, pending, threads, task, on_result, then)
        finally:
            for future in pending:
                future.cancel()
