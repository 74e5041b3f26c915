"""The scenario file: what to replay on the reference worker, validated with pydantic.

A scenario names its settings directly (`settings:`) or points at a project
(`project:`, with `settings:` then overriding what the project resolves to). A project
provider (qlint/worker/from_project.py) turns the project form into the settings form,
with the project's workers and tasks filled in, so everything after preparation sees
one shape.
"""
from __future__ import annotations

import difflib
from pathlib import Path
from typing import Annotated, Any, Callable, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .scenario_yaml import YamlProblem, load_plain

MAX_FILE_BYTES = 1_000_000
MAX_SECONDS = 10 * 365 * 86400  # any time or duration in a scenario: ten years at most
MAX_SUBMISSIONS = 100_000  # tasks submitted in all (each entry's count, summed)


class ScenarioError(Exception):
    """A scenario that cannot be replayed; the message is meant for the user."""


class Strict(BaseModel):
    # Numbers are finite: no .inf or .nan.
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


def Seconds(default: Any = ..., **limits: Any) -> Any:
    """A time or a duration in seconds, finite and at most MAX_SECONDS."""
    limits.setdefault("ge", 0)
    return Field(default=default, le=MAX_SECONDS, **limits)


class DurationRange(Strict):
    min: float = Seconds()
    max: float = Seconds()


class WorkerSpec(Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9_.@-]+$")
    # None: worker_concurrency from the settings, else 1
    concurrency: int | None = Field(default=None, ge=1, le=512)
    prefetch_multiplier: int | None = Field(default=None, ge=0, le=100_000)
    statedb: str | None = None
    start: float = Seconds(0)
    disable_prefetch: bool | None = None  # --disable-prefetch; None: worker_disable_prefetch
    # -Q: the queues it consumes, in the order BRPOP is first given them; none: task_default_queue
    queues: list[Annotated[str, Field(pattern=r"^[\w.:@-]+$")]] | None = Field(default=None, min_length=1)
    # --without-mingle: consume as soon as it is connected. By default (Redis, RabbitMQ) the worker first
    # asks its peers for their revoked ids and waits a second for replies (celery/worker/consumer/mingle.py).
    without_mingle: bool = False
    # How the prefork pool hands a job to its processes (Worker(optimization=...), -O): "fair" (Celery's default;
    # "default" is its other name) only to an idle process; "fcfs" ("fast") to the process its event loop lists
    # first, busy or not, where the job waits in that process's pipe (celery/concurrency/asynpool.py).
    optimization: Literal["fair", "fcfs", "default", "fast"] = "fair"


class TaskSpec(Strict):
    duration: Annotated[float, Field(ge=0, le=MAX_SECONDS)] | DurationRange = 1.0
    call: str | None = Field(default=None, pattern=r"^[\w.]+:[\w]+$")
    returns: Any = None
    fails: bool = False
    params: int | None = Field(default=None, ge=0)
    queue: str | None = Field(default=None, pattern=r"^[\w.:@-]+$")  # the task's own queue option
    # bind=True: the function takes the task first, and params counts the arguments after it; a
    # bound task used as an errback is always sent as a task (Backend._call_task_errbacks).
    bind: bool = False
    payload_bytes: int = Field(default=0, ge=0, le=512 * 1024 * 1024)
    # What the payload argument holds: a string of one character repeated, random base64 text
    # (as an upload form sends a file), or random bytes (the file itself). It decides how much
    # task_compression saves, and what JSON (bytes become base64) or pickle makes of it.
    payload_kind: Literal["repeated", "random", "bytes"] = "repeated"
    acks_late: bool | None = None
    time_limit: float | None = Seconds(None, gt=0, ge=None)
    soft_time_limit: float | None = Seconds(None, gt=0, ge=None)
    # What the task does with SoftTimeLimitExceeded: let it propagate (the run fails), catch it and
    # return (the run succeeds then), or catch it and carry on (until its end or the hard limit).
    # A call: function does what its own code does.
    on_soft_limit: Literal["raise", "catch", "ignore"] = "raise"
    acks_on_failure_or_timeout: bool | None = None
    acks_on_failure: bool | None = None
    acks_on_timeout: bool | None = None
    reject_on_worker_lost: bool | None = None
    # Celery 5.7: a run whose process was killed is retried (a new message after default_retry_delay),
    # up to max_retries (None: no limit) - the Task attributes of the same names.
    retry_on_worker_lost: bool | None = None
    max_retries: int | None = Field(default=3, ge=0)
    default_retry_delay: float = Seconds(180)
    # autoretry_for covers the task's failure: each failed run sends the task again (Task.retry) after
    # default_retry_delay, or with retry_backoff after factor x 2^retries seconds at most
    # retry_backoff_max (retry_jitter: a random part of that, as Celery draws it), up to max_retries.
    autoretry: bool = False
    retry_backoff: float = Field(default=0, ge=0, le=MAX_SECONDS)
    retry_backoff_max: float = Seconds(600)
    retry_jitter: bool = True


class Step(Strict):
    task: str
    args: list[Any] = []
    immutable: bool = False


class Chord(Strict):
    header: list[Step] = Field(min_length=1)
    body: Step


class Submit(Strict):
    at: float = Seconds(0)
    task: str | None = None
    id: str | None = None
    args: list[Any] = []
    count: int = Field(default=1, ge=1, le=MAX_SUBMISSIONS)
    every: float = Seconds(0)
    countdown: float | None = Seconds(None)
    eta: float | None = Seconds(None)
    chain: list[Step] | None = None
    chord: Chord | None = None
    # apply_async(link=..., link_error=...): sent after the task succeeds, or called when it fails
    link: Step | None = None
    link_error: Step | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> "Submit":
        kinds = [k for k in ("task", "chain", "chord") if getattr(self, k)]
        if len(kinds) != 1:
            raise ValueError("give exactly one of task, chain or chord")
        if (self.link or self.link_error) and not self.task:
            raise ValueError("link and link_error apply to a task: submission")
        if self.id and self.count > 1:
            raise ValueError("an explicit id needs count: 1")
        if self.countdown is not None and self.eta is not None:
            raise ValueError("give countdown or eta, not both")
        return self


class Fault(Strict):
    at: float = Seconds()
    kill: str | None = None
    stop: str | None = None
    restart: str | None = None
    revoke: str | None = None
    terminate: bool = False
    # revoke(signal=...): SIGTERM (Celery's default) and SIGKILL end the process; SIGUSR1 raises
    # SoftTimeLimitExceeded in the task, which does what its on_soft_limit says.
    signal: Literal["SIGTERM", "SIGKILL", "SIGUSR1"] | None = None

    @model_validator(mode="after")
    def _one_action(self) -> "Fault":
        actions = [k for k in ("kill", "stop", "restart", "revoke") if getattr(self, k)]
        if len(actions) != 1:
            raise ValueError("give exactly one of kill, stop, restart or revoke")
        if self.terminate and not self.revoke:
            raise ValueError("terminate applies to revoke only")
        if self.signal and not self.terminate:
            raise ValueError("signal applies to revoke with terminate: true only")
        return self

    @property
    def action(self) -> Literal["kill", "stop", "restart", "revoke"]:
        return next(k for k in ("kill", "stop", "restart", "revoke") if getattr(self, k))

    @property
    def target(self) -> str:
        return str(getattr(self, self.action))


class Scenario(Strict):
    settings: dict[str, Any] | None = None
    project: str | None = None
    # The project form only: which app of the project (by name), what to do with a
    # setting qlint cannot resolve ("refuse", or "default": take Celery's default),
    # and the CPUs of a worker left at Celery's default concurrency (one process per CPU).
    app: str | None = None
    # The deployment file whose workers are replayed (relative to the project), when the
    # project ships several; by default the first that starts a worker of the app.
    deployment: str | None = None
    unresolved: Literal["refuse", "default"] = "refuse"
    cpus: int | None = Field(default=None, ge=1, le=512)
    workers: list[WorkerSpec] = []
    tasks: dict[str, TaskSpec] = {}
    submit: list[Submit] = Field(min_length=1)
    faults: list[Fault] = []
    until: float | None = Seconds(None, gt=0, ge=None)
    seed: int = 0
    rabbitmq_consumer_timeout: float = Seconds(1800, gt=0, ge=None)
    # The Celery release the workers run ("5.4"): where releases differ (a hard time limit under
    # late ack, below), the replay follows it; none: the newest qlint knows. The project form
    # takes the project's release when its dependency files pin one.
    celery: str | None = Field(default=None, pattern=r"^\d+\.\d+(\.\d+)?$")

    @model_validator(mode="after")
    def _references(self) -> "Scenario":
        total = sum(sub.count for sub in self.submit)
        if total > MAX_SUBMISSIONS:
            raise ValueError(f"{total:,} tasks submitted in all (the counts of submit summed); a replay takes at "
                             f"most {MAX_SUBMISSIONS:,}")
        if self.project is not None:
            return self  # workers and tasks may come from the project: checked once it is resolved
        given = [k for k in ("app", "cpus", "deployment") if getattr(self, k) is not None]
        if self.unresolved != "refuse":
            given.append("unresolved")
        if given:
            raise ValueError(f"{', '.join(given)} applies to the project form only (project: PATH)")
        if not self.workers:
            raise ValueError("workers: give at least one worker (or project: PATH to take the project's own)")
        if not self.tasks:
            raise ValueError("tasks: give at least one task (or project: PATH to take the project's own)")
        names = [w.name for w in self.workers]
        if len(set(names)) != len(names):
            raise ValueError("worker names must be unique")
        known = ", ".join(sorted(self.tasks))
        for i, sub in enumerate(self.submit):
            steps = [sub.task] if sub.task else []
            steps += [s.task for s in (sub.link, sub.link_error) if s]
            steps += [s.task for s in sub.chain or []]
            if sub.chord:
                steps += [s.task for s in sub.chord.header] + [sub.chord.body.task]
            for task in steps:
                if task not in self.tasks:
                    raise ValueError(f"submit[{i}]: unknown task {task!r} (tasks: {known})")
        for i, fault in enumerate(self.faults):
            if fault.action == "revoke":
                continue
            worker, _, slot = fault.target.partition("/")
            if worker not in names:
                raise ValueError(f"faults[{i}]: unknown worker {worker!r} (workers: {', '.join(names)})")
            if slot and (fault.action != "kill" or not slot.isdigit()):
                raise ValueError(f"faults[{i}]: only kill takes a process number (kill: {worker}/1)")
        return self


def _union_member(part: Any) -> bool:
    """A location part that names the member of a union pydantic tried, not a key."""
    return isinstance(part, str) and (part in {"float", "int", "str", "bool", "DurationRange"}
                                      or part.startswith(("constrained-", "function-")))


def _known_keys() -> list[str]:
    models = (Scenario, WorkerSpec, TaskSpec, Submit, Fault, Step, Chord, DurationRange)
    return sorted({name for model in models for name in model.model_fields})


def _format_validation(exc: ValidationError) -> str:
    lines: dict[str, list[str]] = {}
    for err in exc.errors():
        loc = [p for p in err["loc"] if not _union_member(p)]
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".") or "scenario"
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden" and loc:
            close = difflib.get_close_matches(str(loc[-1]), _known_keys(), n=1)
            message = "unknown key" + (f" (did you mean {close[0]!r}?)" if close else "")
        lines.setdefault(where, []).append(message)
    out = []
    for where, messages in lines.items():
        # A value that fits no member of a union: say what the closest member wanted.
        kept = [m for m in messages if not m.startswith("Input should be a valid dictionary or instance")] or messages
        out.extend(f"  {where}: {m}" for m in dict.fromkeys(kept))
    return "invalid scenario:\n" + "\n".join(out)


def parse_scenario(text: str, origin: str = "<scenario>") -> Scenario:
    if len(text.encode("utf-8", "replace")) > MAX_FILE_BYTES:
        raise ScenarioError(f"{origin}: scenario is larger than {MAX_FILE_BYTES} bytes")
    try:
        data = load_plain(text)
    except YamlProblem as exc:
        # One line, as compilers write it: file:line:column: reason.
        where = f"{origin}:{exc.line}:{exc.column}" if exc.line is not None else origin
        raise ScenarioError(f"{where}: {exc.reason}".replace("\n", " ")) from None
    if not isinstance(data, dict):
        raise ScenarioError(f"{origin}: a scenario is a YAML mapping with workers, tasks and submit")
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(f"{origin}: {_format_validation(exc)}") from None


def load_scenario(path: Path) -> Scenario:
    try:
        with open(path, "rb") as handle:  # at most a byte more than a scenario may have (not all of /dev/zero)
            raw = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise ScenarioError(f"cannot read {path}: {exc.strerror}") from None
    if len(raw) > MAX_FILE_BYTES:
        raise ScenarioError(f"{path}: scenario is larger than {MAX_FILE_BYTES} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ScenarioError(f"{path}: not a UTF-8 text file") from None
    return parse_scenario(text, str(path))


class Prepared(NamedTuple):
    """A scenario in the settings form, ready to replay, and what preparing it assumed."""

    scenario: Scenario
    settings: dict[str, Any]
    notes: list[str]


ProjectProvider = Callable[[Scenario, Path], Prepared]


def prepare_scenario(scenario: Scenario, base: Path, provider: ProjectProvider | None = None) -> Prepared:
    """The scenario with its settings, workers and tasks, whichever way it gave them.

    base is the scenario file's folder, which a relative `project:` path starts from.
    """
    if scenario.project is None:
        return Prepared(scenario, dict(scenario.settings or {}), [])
    if provider is None:
        raise ScenarioError("'project:' needs qlint's resolver (qlint.worker.from_project.project_provider())")
    return provider(scenario, (base / scenario.project).resolve())
