"""Errors a user sees. Each names the file and the line or row where it can."""

from __future__ import annotations


class CurationError(Exception):
    """Base class for every error this package raises on purpose."""


class InputError(CurationError):
    """Bad input data: malformed JSON, bad UTF-8, a missing column, a truncated stream...

    ``location`` is ``path:line N`` (1-based line) for line formats and ``path:row N`` (0-based
    row) for Parquet, or just the path when the problem concerns the whole file.
    """

    def __init__(self, location: str, reason: str, message: str):
        super().__init__(f"{location}: {message}")
        self.location = location
        self.reason = reason
        self.message = message

    def __reduce__(self):  # keep the fields across pickling (Ray ships exceptions)
        return (type(self), (self.location, self.reason, self.message))


class PipelineValidationError(CurationError):
    """The DAG is wrong: unknown input, cycle, duplicate name, missing column."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"the pipeline is not valid:\n{lines}")

    def __reduce__(self):
        return (type(self), (self.problems,))


class TaskFailed(CurationError):
    """A task failed for good (after retries); names the step, the shard and the cause."""

    def __init__(self, step: str, phase: str, index: int, shard: str, cause: str):
        self.step, self.phase, self.index, self.shard, self.cause = step, phase, index, shard, cause
        where = f"step '{step}', {phase} task {index}"
        if shard:
            where += f" ({shard})"
        super().__init__(f"{where} failed: {cause}")

    def __reduce__(self):
        return (type(self), (self.step, self.phase, self.index, self.shard, self.cause))
