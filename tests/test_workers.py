"""The worker pool survives a worker that dies: the job that killed it is reported, the rest go on."""

import os

import pytest

from hcrbatch.workers import run_parallel


def _no_setup() -> None:
    pass


def times_ten_but_die_on_three(job: int) -> int:
    if job == 3:
        os._exit(9)  # as the out-of-memory killer would end it
    return job * 10


def fail_on_two(job: int) -> int:
    if job == 2:
        raise ValueError("boom")
    return job


def test_a_dying_worker_is_isolated_and_the_batch_completes():
    results = {}

    def on_result(job, result):
        results[job] = result
        return True

    run_parallel(list(range(1, 8)), times_ten_but_die_on_three, 2, _no_setup, (), on_result, lambda job: -1)
    assert results == {1: 10, 2: 20, 3: -1, 4: 40, 5: 50, 6: 60, 7: 70}


def test_stop_early_when_told():
    seen = []
    run_parallel(list(range(20)), abs, 2, _no_setup, (), lambda job, r: seen.append(job) or len(seen) < 3, lambda j: 0)
    assert len(seen) == 3


def test_an_exception_in_a_job_propagates():
    with pytest.raises(ValueError, match="boom"):
        run_parallel([1, 2, 3], fail_on_two, 2, _no_setup, (), lambda job, r: True, lambda j: 0)


def test_jobs_a_result_makes_ready_run_before_the_jobs_queued():
    order = []

    def on_result(job, result):
        order.append(job)
        return True

    # one worker: the order of completion is the order of running
    run_parallel(
        [1, 2, 3], abs, 1, _no_setup, (), on_result, lambda j: 0, then=lambda job, r: [-job] if job > 0 else []
    )
    assert order.index(-1) < order.index(3) and sorted(order) == [-3, -2, -1, 1, 2, 3]
