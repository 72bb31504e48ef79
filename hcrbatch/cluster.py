"""Run a batch's tasks on an existing dask.distributed cluster (`--executor dask --scheduler ADDRESS`).

The cluster is the user's: hcrbatch connects as a client, checks that every worker sees the input
and output folders at the paths this machine does (outputs are written by the workers, in place),
and submits one task a document or a long document's page tasks. A worker that dies costs only its
task: the scheduler runs it again elsewhere, and a task that has killed workers
`distributed.scheduler.allowed-failures` times (3 by default) comes back as KilledWorker, which
becomes that file's failed row. Models load once per worker process, on its first task.
"""

from __future__ import annotations

import os
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlparse

from hcrbatch.errors import ConfigError

Job = TypeVar("Job")
Result = TypeVar("Result")

CONNECT_TIMEOUT = "20s"


def _sees(paths: Sequence[str], probe: str) -> list[str]:
    """Run on each worker: the paths it cannot see as this client does (the probe proves that the
    output folder is the same folder, not one of the same name)."""
    missing = [path for path in paths if not os.path.isdir(path)]
    if not os.path.isfile(probe):
        missing.append(str(Path(probe).parent))
    return missing


def worker_host() -> str:
    """The host of the worker running the calling task, as the scheduler names it."""
    from distributed import get_worker

    return urlparse(get_worker().address).hostname or ""


class Cluster:
    """A connection to a running scheduler, its workers checked to share this machine's storage."""

    def __init__(self, address: str, shared: Sequence[Path], scratch: Path) -> None:
        try:
            from distributed import Client
        except ImportError as exc:
            raise ConfigError("--executor dask needs dask.distributed: pip install 'hcrbatch[dask]'") from exc
        try:
            self.client = Client(address, timeout=CONNECT_TIMEOUT, set_as_default=False)
        except (OSError, TimeoutError, ValueError) as exc:
            raise ConfigError(f"cannot reach the dask scheduler at {address}: {exc}") from exc
        try:
            self._check_storage(shared, scratch)
        except BaseException:
            self.client.close()
            raise

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, *exc_info) -> None:
        self.client.close()

    def _check_storage(self, shared: Sequence[Path], scratch: Path) -> None:
        workers = self.client.scheduler_info(n_workers=-1)["workers"]
        if not workers:
            raise ConfigError("the dask cluster has no workers: start some with `dask worker ADDRESS`")
        probe = scratch / f"cluster-probe-{uuid.uuid4().hex}"
        probe.write_text("hcrbatch\n")
        try:
            unseen = self.client.run(_sees, [str(path) for path in shared], str(probe))
        finally:
            probe.unlink(missing_ok=True)
        blind = {worker: paths for worker, paths in unseen.items() if paths}
        if blind:
            worker, paths = sorted(blind.items())[0]
            raise ConfigError(
                f"{len(blind)} dask worker(s) do not see {', '.join(paths)} (e.g. {worker}): every worker must see "
                "the input and output folders at the same paths as this machine (a shared file system)"
            )

    @property
    def slots(self) -> int:
        """Tasks the cluster runs at once: its workers' threads."""
        workers = self.client.scheduler_info(n_workers=-1)["workers"]
        return max(1, sum(int(w.get("nthreads", 1)) for w in workers.values()))

    def threads_by_host(self) -> dict[str, int]:
        """The CPU threads each worker process may give its networks: its host's cores shared
        among the workers the host runs (a worker's own report of its cores)."""
        workers = self.client.scheduler_info(n_workers=-1)["workers"]
        per_host = Counter(urlparse(address).hostname for address in workers)
        cores = self.client.run(os.cpu_count)
        return {
            urlparse(address).hostname: max(1, (cores.get(address) or 1) // per_host[urlparse(address).hostname])
            for address in workers
        }

    def run(
        self,
        jobs: Sequence[Job],
        task: Callable[[Job], Result],
        on_result: Callable[[Job, Result], bool],
        on_crash: Callable[[Job], Result],
        then: Callable[[Job, Result], Sequence[Job]] = lambda job, result: (),
    ) -> None:
        """As `workers.run_parallel`: `on_result(job, task(job))` in completion order until it
        returns False; jobs `then` names run ahead of those queued. An exception raised by `task`
        propagates; a job that keeps killing workers gets `on_crash(job)`."""
        from distributed import KilledWorker, as_completed

        futures = {self.client.submit(task, job, pure=False): job for job in jobs}
        pending = as_completed(futures, loop=self.client.loop)
        try:
            for future in pending:
                job = futures.pop(future)
                try:
                    result = future.result()
                except KilledWorker:
                    result = on_crash(job)
                if not on_result(job, result):
                    return
                for follow in then(job, result):  # ahead of the queued: a document finishes soon after its pages
                    submitted = self.client.submit(task, follow, pure=False, priority=1)
                    futures[submitted] = follow
                    pending.add(submitted)
        finally:
            self.client.cancel(list(futures))
