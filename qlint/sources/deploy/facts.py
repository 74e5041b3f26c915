"""Per-file facts read from deployment files: celery command lines, environment, settings.

Plain frozen dataclasses, picklable and cacheable by content like the Python facts.

How to tell alternatives from processes that run together
---------------------------------------------------------
A ``Deployment`` groups the processes that are started together by one mechanism:
one compose file with one set of active profiles, one Procfile, one set of
Kubernetes manifests, one supervisord file, one systemd unit, one entrypoint script.

- Two processes in the *same* Deployment run at the same time, each with its
  ``replicas``: add them up (two beats there are really two beats).
- Two Deployments with the same ``identity`` but different ``profiles`` are
  alternatives (``docker compose --profile dev`` or ``--profile prod``): a process
  with no profile runs in both; never add up processes from alternative profile
  sets. The compose reader emits one Deployment per profile set that selects at
  least one celery process (plus the base set without profiles).
- Deployments from different files (a Procfile and a compose file for the same app)
  are alternative ways to ship the app unless the resolver knows better: their
  ``identity`` differs, and nothing in these facts says that they run together.
  Kubernetes manifests are the exception: every manifest of one ``kind="kubernetes"``
  file is one Deployment, and several manifest files under one folder are meant to be
  applied together (``kubectl apply -f dir/``), which the resolver may decide.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from qlint.model import Span, Value

DeployKind = Literal[
    "compose", "kubernetes", "procfile", "supervisord", "systemd", "shell", "dotenv", "settings", "dockerfile",
    "python",
]
CommandKind = Literal["worker", "beat", "multi"]


@dataclass(frozen=True)
class OptionValue:
    """One option of a celery command line.

    name is Celery's parameter name (``concurrency``, ``prefetch_multiplier``,
    ``queues``...); flag is the option as written (``-c``, ``--concurrency``, or
    ``$CELERY_WORKER_CONCURRENCY`` when click read it from the environment); raw is the
    value text before variables were expanded (None for flags without a value);
    value holds the typed value and how sure it is; its origin is value_span.
    """

    name: str
    flag: str
    raw: str | None
    value: Value
    flag_span: Span
    value_span: Span | None


@dataclass(frozen=True)
class CeleryCommand:
    """A ``celery worker``/``beat``/``multi`` invocation.

    app is the ``-A`` value as written (None when absent; app_value has its status).
    app_after_subcommand is True for the Celery 4 order ``celery worker -A proj``,
    which Celery 5 rejects at start-up. unparsed lists arguments that are not
    options of the command (with the reason), so a reader knows the picture is partial.
    env holds assignments written on the command line itself (``FOO=1 celery ...``).
    For ``multi``, the option ``nodes`` holds the node count or names.
    """

    kind: CommandKind
    app: str | None
    options: dict[str, OptionValue]
    span: Span
    app_value: Value | None = None
    app_after_subcommand: bool = False
    program: str = "celery"
    unparsed: tuple[str, ...] = ()
    env: dict[str, EnvVar] = field(default_factory=dict)

    def option(self, name: str) -> OptionValue | None:
        return self.options.get(name)


@dataclass(frozen=True)
class EnvVar:
    """An environment variable defined by a deployment file.

    value is known, or unknown with the reason (``valueFrom`` a secret, an
    unresolvable reference). span covers the whole definition (``KEY=value``).
    """

    name: str
    value: Value
    span: Span


@dataclass(frozen=True)
class Process:
    """One celery process definition: a compose service, a Procfile line, a container...

    replicas is known (compose ``deploy.replicas``/``scale``, Kubernetes ``replicas``,
    supervisord ``numprocs``) or ``default`` 1. autoscaled_max holds a
    HorizontalPodAutoscaler's ``maxReplicas`` when one targets this workload.
    env_files lists ``env_file:``/``EnvironmentFile=`` paths as written, for the
    resolver to read (relative to the deployment file's folder).
    """

    name: str
    command: CeleryCommand
    replicas: Value
    span: Span
    env: dict[str, EnvVar] = field(default_factory=dict)
    env_files: tuple[str, ...] = ()
    autoscaled: bool = False
    autoscaled_max: Value | None = None
    profiles: tuple[str, ...] = ()


@dataclass(frozen=True)
class Service:
    """A service of a compose file, whatever it runs: its image (the broker's, say) and,
    when it is built here, the Dockerfile (a display path) whose command it runs when it
    gives none of its own."""

    name: str
    span: Span
    image: str | None = None
    dockerfile: str | None = None
    has_command: bool = False
    env: dict[str, EnvVar] = field(default_factory=dict)
    env_files: tuple[str, ...] = ()
    replicas: Value | None = None
    profiles: tuple[str, ...] = ()


@dataclass(frozen=True)
class Deployment:
    """Processes started together. See the module docstring for alternatives."""

    identity: str
    kind: DeployKind
    processes: tuple[Process, ...]
    profiles: tuple[str, ...] = ()


@dataclass(frozen=True)
class SettingEntry:
    """A key/value from a TOML/YAML settings file (``CELERY_BROKER_URL = "..."``).

    section is the enclosing table path (``("production",)`` for Dynaconf's
    per-environment tables, ``()`` at top level). The resolver decides which keys are
    Celery settings.
    """

    key: str
    value: Value
    span: Span
    section: tuple[str, ...] = ()


@dataclass(frozen=True)
class DeployFacts:
    path: str
    kind: DeployKind
    deployments: list[Deployment] = field(default_factory=list)
    env: list[EnvVar] = field(default_factory=list)
    settings: list[SettingEntry] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # A file of this kind that cannot be read (invalid YAML or TOML, binary, an alias
    # bomb, too large): nothing in it was read, and `qlint check` reports it as QL000.
    error: str | None = None
    error_span: Span | None = None
    template: bool = False  # a template (Jinja, Go) that is not YAML: skipped with a note
    # A Dockerfile's COPY/ADD (file of the repository, path in the image), and the file the
    # container starts when it was copied in (its entrypoint script).
    copies: tuple[tuple[str, str], ...] = ()
    entrypoint: str | None = None
    # Every service of a compose file (or container of a Kubernetes manifest), celery or not.
    services: tuple["Service", ...] = ()

    @property
    def processes(self) -> list[Process]:
        return [p for d in self.deployments for p in d.processes]
