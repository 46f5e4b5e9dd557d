"""Executors run a list of independent tasks and return their records in task order.

``LocalExecutor`` runs them one by one in this process (tests, debugging). ``RayExecutor``
submits them as Ray tasks with a bounded number in flight, retrying transient failures (a lost
worker, an ``OSError``). Both call the same ``execute``, so for the same inputs and seed they
write byte-identical files whatever the number of workers.
"""

from __future__ import annotations

import os
import sys
import traceback
from abc import ABC, abstractmethod
from collections.abc import Callable

from curation.core import fs, raywatch
from curation.core.errors import CurationError, TaskFailed
from curation.core.stage import BUILTIN_RESOURCES
from curation.core.tasks import Task, execute

OnDone = Callable[[dict], None]
TRANSIENT = (OSError,)


def _failure(task: Task, error: BaseException) -> TaskFailed:
    if isinstance(error, CurationError):
        cause = str(error)
    else:  # an unexpected bug: keep the innermost frame so it can be found
        frames = traceback.extract_tb(error.__traceback__) if error.__traceback__ else []
        ours = [f for f in frames if "/curation/" in f.filename or "pipeline" in f.filename]
        frame = (ours or frames)[-1:]
        where = f" (at {frame[0].filename}:{frame[0].lineno})" if frame else ""
        cause = f"{type(error).__name__}: {error}{where}"
    return TaskFailed(task.step, task.phase, task.index, task.label, cause)


class Executor(ABC):
    name: str

    def check_storage(self, paths: dict[str, str]) -> None:  # noqa: B027 (no check by default)
        """Raise ``CurationError`` if a worker could not reach one of ``paths`` (what each is,
        e.g. ``"work dir"`` -> path). A single machine reaches every path it has."""

    @abstractmethod
    def run(self, tasks: list[Task], on_done: OnDone) -> list[dict]:
        """Run all tasks; ``on_done(record)`` after each. Raises ``TaskFailed`` on the first
        task that fails for good, after the tasks in flight have settled."""

    def close(self) -> None:  # noqa: B027 (nothing to release by default)
        """Release what the executor started."""


class LocalExecutor(Executor):
    name = "local"

    def __init__(self, max_retries: int = 2):
        self.max_retries = max_retries

    def run(self, tasks: list[Task], on_done: OnDone) -> list[dict]:
        records = []
        for task in tasks:
            for attempt in range(self.max_retries + 1):
                try:
                    record = execute(task)
                    break
                except TRANSIENT as e:
                    if attempt == self.max_retries:
                        raise _failure(task, e) from None
                except Exception as e:
                    raise _failure(task, e) from None
            on_done(record)
            records.append(record)
        return records


def _ship_user_code(tasks: list[Task]) -> None:
    """Let Ray workers unpickle stages defined in the user's own modules (a pipeline's sibling
    file, a test module): those are not importable on the workers, so they travel by value."""
    from ray import cloudpickle  # Ray pickles task arguments with its own vendored copy

    own = {"curation", "pipelines", "classifiers", "train"}
    seen: set[str] = set()
    for task in tasks:
        stages = [s for _, s in getattr(task, "stages", [])] + [getattr(task, "stage", None)]
        for stage in stages:
            module = sys.modules.get(type(stage).__module__) if stage is not None else None
            if module is None or module.__name__ in seen or module.__name__ == "__main__":
                continue
            seen.add(module.__name__)
            path = getattr(module, "__file__", "") or ""
            if module.__name__.split(".")[0] not in own and "site-packages" not in path:
                cloudpickle.register_pickle_by_value(module)


class RayExecutor(Executor):
    """Ray tasks on a cluster: ``address=None`` starts a local one (``num_cpus`` cores).

    ``runtime_env`` is Ray's, for the tasks: e.g. ``{"env_vars": {"AWS_ENDPOINT_URL": ...}}``
    when workers need settings (object-store endpoint, credentials) they do not inherit, or
    ``{"working_dir": ...}`` to ship code. On a cluster of more than one node, every path a run
    reads or writes must be an object-store URI (``s3://...``) or lie under one of
    ``shared_dirs``: directories the user declares mounted at the same place on every node.
    Each task asks Ray for what its stage says it needs (``Stage.resources``: one CPU, and
    memory where the stage can estimate it); a task needing more than any node has is refused
    before anything is submitted.
    """

    name = "ray"

    def __init__(
        self,
        address: str | None = None,
        num_cpus: int | None = None,
        max_in_flight: int | None = None,
        max_retries: int = 3,
        runtime_env: dict | None = None,
        shared_dirs: tuple[str, ...] = (),
    ):
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        import ray

        self.shared_dirs = tuple(os.path.abspath(d) for d in shared_dirs)

        self._ray = ray
        self._started = False
        self._watchdog = None
        if not ray.is_initialized():
            ray.init(
                address=address,
                num_cpus=num_cpus if address is None else None,
                include_dashboard=False,
                log_to_driver=True,
                configure_logging=False,
            )
            self._started = True
            if address is None and not os.environ.get("RAY_ADDRESS"):  # a cluster of our own
                self._watchdog = raywatch.start(os.getpid())
        cpus = int(ray.cluster_resources().get("CPU", 1))
        self.max_in_flight = max_in_flight or 2 * cpus
        self._execute = ray.remote(execute)
        self._options = {"num_cpus": 1, "max_retries": max_retries,
                         "retry_exceptions": list(TRANSIENT),
                         **({"runtime_env": runtime_env} if runtime_env else {})}

    def check_storage(self, paths: dict[str, str]) -> None:
        nodes = [n for n in self._ray.nodes() if n.get("Alive")]
        if len(nodes) < 2:
            return
        for what, path in paths.items():
            if not fs.is_local(path):
                continue
            local = os.path.abspath(path.removeprefix("file://"))
            if not any(local == d or local.startswith(d + os.sep) for d in self.shared_dirs):
                raise CurationError(
                    f"the {what} {path} is on this machine's disk, which the other "
                    f"{len(nodes) - 1} node(s) of the Ray cluster cannot see: use an "
                    "object-store URI (s3://bucket/prefix), or a directory every node mounts "
                    "at the same place, declared with --shared-dir DIR "
                    "(RayExecutor(shared_dirs=[DIR]))")

    def _check_fits(self, tasks: list[Task]) -> None:
        """Refuse, before submitting anything, a task asking more than any node has."""
        nodes = [n["Resources"] for n in self._ray.nodes() if n.get("Alive")]
        ray_names = {"num_cpus": "CPU", "num_gpus": "GPU", "memory": "memory"}
        for task in tasks:
            for key, need in task.resources.items():
                most = max(n.get(ray_names.get(key, key), 0) for n in nodes)
                if need > most:
                    raise CurationError(
                        f"step '{task.step}', {task.phase} task {task.index} ({task.label}) "
                        f"needs {_amount(key, need)}, more than any node of the cluster has "
                        f"({_amount(key, most)}): use bigger nodes, make the tasks "
                        "smaller (more partitions, a smaller partition_bytes), or override "
                        "the estimate with stage.with_resources(...)")

    def run(self, tasks: list[Task], on_done: OnDone) -> list[dict]:
        ray = self._ray
        self._check_fits(tasks)
        _ship_user_code(tasks)
        records: dict[int, dict] = {}
        pending = {}
        queue = list(enumerate(tasks))
        failure: TaskFailed | None = None
        while queue or pending:
            while queue and failure is None and len(pending) < self.max_in_flight:
                i, task = queue.pop(0)
                remote = self._execute.options(**(self._options | _ray_options(task)))
                pending[remote.remote(task)] = (i, task)
            if not pending:
                break
            done, _ = ray.wait(list(pending), num_returns=1)
            i, task = pending.pop(done[0])
            try:
                records[i] = ray.get(done[0])
                on_done(records[i])
            except Exception as e:
                cause = getattr(e, "cause", None) or e  # RayTaskError carries the original
                failure = failure or _failure(task, cause)
                queue.clear()
        if failure is not None:
            raise failure
        return [records[i] for i in range(len(tasks))]

    def close(self) -> None:
        if self._started:
            self._ray.shutdown()
            self._started = False
        if self._watchdog is not None:  # the cluster stopped cleanly: nothing left to watch
            self._watchdog.terminate()
            self._watchdog.wait()
            self._watchdog = None


def _ray_options(task: Task) -> dict:
    """Ray's task options for what ``task`` needs: custom resources go under ``resources``."""
    options = {k: v for k, v in task.resources.items() if k in BUILTIN_RESOURCES}
    custom = {k: v for k, v in task.resources.items() if k not in BUILTIN_RESOURCES}
    return options | ({"resources": custom} if custom else {})


def _amount(resource: str, value: float) -> str:
    if resource == "memory":
        return f"{value / 1e9:.1f} GB of memory"
    units = {"num_cpus": "CPUs", "num_gpus": "GPUs"}
    return f"{value:g} {units[resource]}" if resource in units else \
        f"{value:g} of resource '{resource}'"


def make_executor(name: str, **options) -> Executor:
    if name == "local":
        return LocalExecutor()
    if name == "ray":
        return RayExecutor(**options)
    raise ValueError(f"unknown executor {name!r}: use 'local' or 'ray'")


__all__ = ["Executor", "LocalExecutor", "RayExecutor", "make_executor"]
