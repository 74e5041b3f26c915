"""Running the rules: select, check, keep what concerns the asked files, suppress.

Rules see the resolved project only; this is the one place that decides which
rules run, which findings are kept and which are silenced by comments or
per-file-ignores.

The analysis and the rules are imported where they are used: check_paths() answers an
unchanged tree from the run cache without them (tests/test_startup.py).
"""
from __future__ import annotations

import functools
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Mapping, Sequence

from qlint.model import Finding
from qlint.pipeline.result import Answer, CheckResult
from qlint.scan.cache_writer import store, wait_for_writer
from qlint.scan.discovery import CONFIG_NAMES, display_path, project_files
from qlint.scan.run_cache import Changes, Listing, Reads, RunCache
from qlint.sources import file_verdicts
from qlint.sources.read import SourceError, read_bytes

if TYPE_CHECKING:
    from qlint.pipeline.analysis import Analysis
    from qlint.rule import Rule


def selected_rules(config, select=None, ignore=None, extend_select=None) -> tuple[type[Rule], ...]:
    from qlint.rules import all_rules
    from qlint.user_config.project_config import is_selected

    return tuple(
        rule for rule in all_rules()
        if is_selected(rule.code, config, cli_select=select, cli_ignore=ignore, cli_extend_select=extend_select)
    )


def run_rules(analysis: Analysis, rules: Sequence[type[Rule]]) -> list[Finding]:
    from qlint.sources.ir import deep_recursion

    findings: list[Finding] = []
    for rule_cls in rules:
        try:
            with deep_recursion():  # rules walk the same deep expression trees the resolver accepted
                findings.extend(rule_cls().check(analysis.project))
        except Exception:  # a bug in one rule must not hide the others' findings
            import traceback

            print(f"qlint: internal error in rule {rule_cls.code}; its findings are missing:", file=sys.stderr)
            traceback.print_exc(file=sys.stderr)
    return findings


Wanted = tuple[set[str], tuple[str, ...]]  # the asked files, and the asked folders as prefixes


def concerns(finding: Finding, wanted: Wanted | None) -> bool:
    """A finding concerns the asked files when it is located in one or depends on one."""
    if wanted is None:
        return True
    files, folders = wanted
    return any(path in files or path.startswith(folders) for path in finding.files)


def wanted_files(answer: Answer, paths: Sequence[str]) -> Wanted | None:
    """The display paths of the asked files and folders, or None when a folder at the root was
    asked (everything)."""
    files: set[str] = set()
    folders: list[str] = []
    everything = True
    cwd = Path(answer.cwd)
    for raw in paths:
        target = (cwd / raw).resolve()
        if target == Path(answer.root).resolve():
            continue
        everything = False
        rel = display_path(target, cwd)
        if target.is_dir():
            folders.append("" if rel in (".", "") else rel.rstrip("/") + "/")
        else:
            files.add(rel)
    return None if everything else (files, tuple(folders))


def check(analysis: Analysis, config, paths: Sequence[str] = (".",), **options) -> CheckResult:
    """What a check of paths reports: answer() (which takes the options), restricted to them."""
    return restrict(answer(analysis, config, paths, **options), paths)


def restrict(answer: Answer, paths: Sequence[str]) -> CheckResult:
    """The answer for the asked paths: the findings that concern them (located in one of them,
    or depending on one)."""
    result = answer.result
    unchecked = unchecked_paths(answer, paths)
    if answer.paths is not None:
        return replace(result, unchecked=unchecked)
    wanted = wanted_files(answer, paths)
    return replace(result, findings=[f for f in result.findings if concerns(f, wanted)],
                   suppressed=[f for f in result.suppressed if concerns(f, wanted)], unchecked=unchecked)


def answer(
    analysis: Analysis,
    config,
    paths: Sequence[str] = (".",),
    *,
    select: Sequence[str] | None = None,
    ignore: Sequence[str] | None = None,
    extend_select: Sequence[str] | None = None,
    report_unused: bool = False,
    buffers: Mapping[str, bytes] | None = None,
) -> Answer:
    """check()'s answer before restrict(): for every file, unless what is reported depends on
    which files were asked (stale suppression comments are looked for in the asked files).
    buffers: unsaved contents by display path (the language server's), read for suppressions.

    Each finding is selected, ignored and per-file-ignored by the configuration that governs
    its file: the nearest sub-project's (analysis.configs), else `config`. The command line's
    select, ignore and extend-select apply to all of them.
    """
    from qlint.rules import all_rules
    from qlint.user_config.project_config import per_file_ignored
    from qlint.user_config.suppress import apply_suppressions

    analysis.project.config = config
    analysis.project.problems = analysis.problems  # read by rule QL000
    nested = sorted(((folder, c) for folder, c in analysis.configs.items() if folder != "."),
                    key=lambda item: -len(item[0]))

    @functools.cache
    def governing(path: str):
        return next((c for folder, c in nested if path.startswith(f"{folder}/")), config)

    by_config: dict[int, frozenset[str]] = {}

    def selected(cfg) -> frozenset[str]:
        if id(cfg) not in by_config:
            by_config[id(cfg)] = frozenset(r.code for r in selected_rules(cfg, select, ignore, extend_select))
        return by_config[id(cfg)]

    every = [config, *(c for _, c in nested)]
    enabled = {code for cfg in every for code in selected(cfg)}
    after = [r for r in all_rules() if r.after_suppressions and (r.code in enabled or report_unused)]
    # Whether a comment silences something is judged against every stable rule's findings.
    judged = {r.code for r in all_rules() if r.status == "stable"} if after else set()
    rules = [r for r in all_rules() if not r.after_suppressions and (r.code in enabled or r.code in judged)]
    findings = run_rules(analysis, rules)
    asked = Answer(CheckResult([]), tuple(paths) if after else None, str(analysis.cwd), str(analysis.root),
                   "".join(f"\n{path}" for path in sorted(analysis.read_files)) + "\n")
    wanted = wanted_files(asked, paths) if after else None
    findings = [f for f in findings if concerns(f, wanted)]

    @functools.cache  # once per file, not per finding (a 120,000-entry schedule has as many)
    def ignored(code: str, path: str) -> bool:
        cfg = governing(path)
        config_dir = getattr(cfg, "root", None) or analysis.root
        return per_file_ignored(code, display_path(analysis.cwd / path, Path(config_dir)), cfg)

    findings = [f for f in findings if not ignored(f.code, f.span.path)]

    def read_text(path: str) -> str | None:
        analysis.comments_read.add(path)
        if buffers and path in buffers:
            return buffers[path].decode("utf-8", errors="replace")
        try:
            return (analysis.cwd / path).read_text(encoding="utf-8", errors="replace")
        except OSError:
            return None

    # Stale comments are looked for in every checked file only when they will be reported.
    checked = [f for f in analysis.python_files + analysis.other_files
               if wanted is None or f in wanted[0] or f.startswith(wanted[1])] if after else []
    result = apply_suppressions(findings, read_text, files=checked)
    order = lambda f: (f.span.path, f.span.line, f.span.column, f.code)  # noqa: E731
    kept = [f for f in result.kept if f.code in selected(governing(f.span.path))]
    reported_unused: list[Finding] = []
    if after:
        analysis.project.unused_suppressions = result.unused
        for finding in run_rules(analysis, after):
            if ((report_unused or finding.code in selected(governing(finding.span.path)))
                    and not ignored(finding.code, finding.span.path)):
                reported_unused.append(finding)
    deployment = analysis.project.deployment
    notes = list(dict.fromkeys([*(deployment.notes if deployment is not None else ()), *analysis.project.notes]))
    suppressed = [f for f in result.suppressed if f.code in selected(governing(f.span.path))]
    asked.result = CheckResult(sorted(kept + reported_unused, key=order), suppressed, sorted(reported_unused, key=order),
                               notes)
    return asked


def unchecked_paths(answer: Answer, paths: Sequence[str]) -> list[str]:
    """The paths asked for under which qlint read no file (`qlint check image.png`, a folder
    with neither Python nor a deployment or dependency file), as given."""
    out = []
    cwd = Path(answer.cwd)
    for raw in paths:
        target = (cwd / raw).resolve()
        rel = display_path(target, cwd)
        if target.is_dir():
            found = answer.reads_under("" if rel in (".", "") else rel.rstrip("/") + "/")
        else:
            found = answer.reads_under(rel)
        if not found:
            out.append(raw)
    return out


def run_cache(
    paths: Sequence[str],
    *,
    cwd: Path,
    root: Path,
    config,
    select: Sequence[str] | None = None,
    ignore: Sequence[str] | None = None,
    extend_select: Sequence[str] | None = None,
    report_unused: bool = False,
    use_cache: bool = True,
    force_exclude: bool = False,
) -> RunCache:
    """Where the answer of check_paths() with these arguments is kept for the tree: one for all
    paths (the files they name are part of the tree's listing; see restrict())."""
    request = (str(cwd), tuple(select or ()) if select is not None else None, tuple(ignore or ()),
               tuple(extend_select or ()), report_unused, config.settings_key(), force_exclude)
    targets = [(cwd / p).resolve() for p in paths]
    return RunCache(root, config.exclude, request, enabled=use_cache,
                    files=lambda: project_files(root.resolve(), targets, config.exclude, config, force_exclude, {}))


def check_paths(
    paths: Sequence[str],
    *,
    cwd: Path,
    root: Path,
    config,
    select: Sequence[str] | None = None,
    ignore: Sequence[str] | None = None,
    extend_select: Sequence[str] | None = None,
    report_unused: bool = False,
    use_cache: bool = True,
    force_exclude: bool = False,
) -> CheckResult:
    """analyse() then check(), as `qlint check` runs them; with the cache on, a tree that has
    not changed since the same request was answered gets the stored answer, and so does one
    whose only changes cannot change it (run_cache.py)."""
    wait_for_writer(root)
    cache = run_cache(paths, cwd=cwd, root=root, config=config, select=select, ignore=ignore,
                      extend_select=extend_select, report_unused=report_unused, use_cache=use_cache,
                      force_exclude=force_exclude)
    stored = cache.get()
    if stored is not None and stored.answers(paths):
        return restrict(stored, paths)
    stored = cache.get_unaffected(unaffected_by, presence_unaffected(cwd, root, cache.listing)) \
        if use_cache and stored is None else None
    if stored is not None and stored.answers(paths):
        stored = with_modules(stored, cache.changes, cwd, root)
        if cache.reads is not None:
            tree, reads = cache.tree, cache.reads
            store(root, lambda: cache.put(stored, tree, reads))
        return restrict(stored, paths)
    tree = cache.tree if use_cache else ""
    from qlint.pipeline.analysis import analyse, collections_paused

    with collections_paused():
        analysis = analyse(paths, cwd=cwd, root=root, exclude=config.exclude, use_cache=use_cache,
                           defer_writes=True, config=config, force_exclude=force_exclude)
        try:
            found = answer(analysis, config, paths, select=select, ignore=ignore, extend_select=extend_select,
                           report_unused=report_unused)
        finally:
            analysis.close()
    if use_cache:
        reads = run_reads(analysis, cache.listing)
        store(root, lambda: (analysis.store_facts(), cache.put(found, tree, reads)))
    return restrict(found, paths)


def with_modules(answer: Answer, changes: Changes, cwd: Path, root: Path) -> Answer:
    """The answer with the Python modules added and removed since among the files qlint reads
    (it reads every module)."""
    prefix = _display_prefix(root, cwd)
    added = {prefix + rel for rel in changes.added if rel.endswith(".py")}
    removed = {prefix + rel for rel in changes.removed if rel.endswith(".py")}
    if not added and not removed:
        return answer
    files = ({path for path in answer.read_files.split("\n") if path} - removed) | added
    return replace(answer, read_files="".join(f"\n{path}" for path in sorted(files)) + "\n")


def _display_prefix(root: Path, cwd: Path) -> str:
    """What the display path of a file starts with, before its path from the root."""
    base = display_path(root, cwd)
    return "" if base == "." else base + "/"


def run_reads(analysis: Analysis, listing: Listing = ()) -> Reads:
    """What the run learnt of the files (analysis.reads()), by path from the root; and of the
    configuration files in the listing (the walk read them), the qlint configuration each holds."""
    used, verdicts = analysis.reads()
    prefix = _display_prefix(analysis.root, analysis.cwd)
    by_root = {path[len(prefix):]: dict(v) for path, v in verdicts.items()}
    # a path from the root, or what was looked for (LOOKED_FOR, ModuleIndex's notes) as it is
    learnt = {path[len(prefix):] if path.startswith(prefix) else path for path in (*used, *analysis.comments_read)}
    unreadable = set()
    for rel, full, _ in listing:
        name = rel.rpartition("/")[2]
        if name in CONFIG_NAMES:
            kind = file_verdicts.qlint_configuration(name)
            try:
                by_root.setdefault(rel, {})[kind] = file_verdicts.compute(kind)(read_bytes(full))
            except SourceError:
                unreadable.add(rel)
    return learnt | unreadable, by_root


def unaffected_by(rel: str, full: str, verdicts: Mapping[object, object]) -> bool:
    """Whether a changed file whose bytes the last run did not use, nor looked for, leaves its
    answer as it was: one that gives the verdicts the run asked of it (a Python module's markers,
    a dependency file's facts, the qlint configuration a pyproject.toml holds), or one qlint does
    not read (a README, an image, a schema)."""
    if not verdicts:
        return not rel.endswith(".py")
    try:
        data = read_bytes(full)
    except SourceError:
        return False
    return verdicts_hold(rel, data, verdicts)


def verdicts_hold(rel: str, data: bytes, verdicts: Mapping[object, object]) -> bool:
    """Whether these bytes of a file give the verdicts the last run asked of it (unaffected_by)."""
    if not verdicts:
        return not rel.endswith(".py")
    for kind, value in verdicts.items():
        compute = file_verdicts.compute(kind)
        if compute is None or file_verdicts.as_kept(kind, compute(data)) != value:
            return False
    return True


def presence_unaffected(cwd: Path, root: Path, listing: Listing) -> Callable[[Changes, Reads], bool]:
    """Whether adding and removing files the last run neither used nor looked for leaves its
    answer as it was: files nothing picks by their name or kind (not a configuration,
    dependency or deployment file, nor a README or Makefile that may say how an env file is
    made), and Python modules with nothing Celery-related in them whose names no import asked
    for, while no rule listed every module (ModuleIndex notes it)."""

    def unaffected(changes: Changes, reads: Reads) -> bool:
        from qlint.resolve.modules import DJANGO_ENTRY_FILES, EVERY_MODULE
        from qlint.scan.deploy_files import candidate, may_make_env_files
        from qlint.sources.dependencies import dependency_kind

        used, verdicts = reads
        modules = []
        for rel, full in [*changes.added.items(), *((rel, None) for rel in changes.removed)]:
            name = rel.rpartition("/")[2]
            if name in CONFIG_NAMES or dependency_kind(rel) is not None or may_make_env_files(rel):
                return False
            if rel.endswith(".py"):
                if name in ("__init__.py", *DJANGO_ENTRY_FILES) or EVERY_MODULE in used:
                    return False
                modules.append(rel)
            # removed, it was not read: no deployment file
            if full is not None and candidate(rel) and not unaffected_by(rel, full, {file_verdicts.deployment_file(rel): False}):
                return False
        return not modules or _modules_unaffected(modules, changes, reads, cwd, root, listing)

    return unaffected


def _modules_unaffected(modules: list[str], changes: Changes, reads: Reads, cwd: Path, root: Path,
                        listing: Listing) -> bool:
    """Whether the modules added and removed are set aside by every scan (no marker, no call of
    a sender, no celery started) and are none that an import looked for."""
    from qlint.resolve.modules import MODULE, MODULE_LAST, MODULE_NAMED, MODULE_PREFIX, ModuleIndex

    used, verdicts = reads
    neutral = {file_verdicts.MARKER_NUMBERS: (), file_verdicts.STARTS_CELERY: False}
    neutral.update((kind, ()) for asked in verdicts.values() for kind in asked if file_verdicts.is_calls(kind))
    for rel in modules:
        if rel in changes.added:
            if not unaffected_by(rel, changes.added[rel], neutral):
                return False
            changes.verdicts[rel] = neutral
        if rel in changes.removed and verdicts.get(rel, {}).get(file_verdicts.MARKER_NUMBERS) != ():
            return False
    prefix = _display_prefix(root, cwd)
    index = ModuleIndex([prefix + rel for rel, _, _ in listing if rel.endswith(".py")] + [prefix + rel for rel in changes.removed])
    prefixes = [entry[len(MODULE_PREFIX):] for entry in used if entry.startswith(MODULE_PREFIX)]
    for rel in modules:
        if MODULE_NAMED + rel.rpartition("/")[2] in used:
            return False
        for name in index.names_of(prefix + rel):
            package, _, last = name.rpartition(".")
            if MODULE + name in used or (package and MODULE_LAST + last in used) \
                    or any(name.startswith(p) and package == p.rpartition(".")[0] for p in prefixes):
                return False
    return True

