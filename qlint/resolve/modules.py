"""Module names of the project's files, and where an import statement's module lives.

Module names follow Python's own rule: a file's package is the chain of parent folders holding
an __init__.py, so `proj/settings/base.py` inside package `proj` is `proj.settings.base`, and
the folder above the top package is a source root.

Given a set to note in, the index notes the module names it was asked for (MODULE + name), the
prefixes it listed modules by (MODULE_PREFIX + prefix), the last parts of names it listed
modules by (MODULE_LAST + part), the file names it listed files by (MODULE_NAMED + name) and a
listing of every file (EVERY_MODULE): a later run can tell whether a module added or removed
since could have answered differently (pipeline/engine.py, scan/run_cache.py).
"""
from __future__ import annotations

import posixpath
from collections import defaultdict

# Where Django projects set DJANGO_SETTINGS_MODULE (resolve/django.py reads them).
DJANGO_ENTRY_FILES = ("manage.py", "wsgi.py", "asgi.py")
MODULE, MODULE_PREFIX, MODULE_LAST, MODULE_NAMED = "*module:", "*module-prefix:", "*module-last:", "*module-named:"
EVERY_MODULE = "*module:*"


class ModuleIndex:
    def __init__(self, files: list[str], noted: set[str] | None = None) -> None:
        self._noted = noted if noted is not None else set()
        self.files = set(files)
        dirs_with_init = {posixpath.dirname(f) for f in files if posixpath.basename(f) == "__init__.py"}
        self._init_dirs = dirs_with_init
        self._names: dict[str, str] = {}
        self._by_name: dict[str, list[str]] = defaultdict(list)
        # Folders of a manage.py: Django runs (and celery -A is started) from there, so its
        # modules import as top-level names even when the folder is itself a package.
        self._script_dirs = sorted({posixpath.dirname(f) for f in files if posixpath.basename(f) == "manage.py"},
                                   key=len, reverse=True)
        # Files named like Django's entry points (manage.py, wsgi.py, asgi.py), in path order.
        self.django_entry_files = sorted(f for f in self.files if posixpath.basename(f) in DJANGO_ENTRY_FILES)
        for path in files:
            name = self._compute_name(path)
            self._names[path] = name
            self._by_name[name].append(path)

    def _compute_name(self, path: str) -> str:
        folder, base = posixpath.split(path)
        parts = [] if base == "__init__.py" else [base[:-3]]
        while folder and folder in self._init_dirs:
            folder, package = posixpath.split(folder)
            parts.insert(0, package)
        return ".".join(parts)

    def module_name(self, path: str) -> str:
        return self._names.get(path) or posixpath.splitext(posixpath.basename(path))[0]

    def package_of(self, path: str) -> str:
        name = self.module_name(path)
        if posixpath.basename(path) == "__init__.py":
            return name
        return name.rpartition(".")[0]

    def names_of(self, path: str) -> list[str]:
        """The module names a find() may give this file for: its own, and its name below each
        folder of a manage.py that is a package (_from_script_dir)."""
        names = [self.module_name(path)]
        for folder in self._script_dirs:
            if folder and folder in self._init_dirs and path.startswith(f"{folder}/"):
                names.append(path[len(folder) + 1:].removesuffix(".py").removesuffix("/__init__").replace("/", "."))
        return names

    def in_packages_as(self, parts: set[str]) -> list[str]:
        """The files of the modules in a package whose name ends in one of parts
        (`billing.tasks` for "tasks"), in path order."""
        self._noted.update(MODULE_LAST + part for part in parts)
        found = []
        for path in sorted(self.files):
            package, _, last = self.module_name(path).rpartition(".")
            if package and last in parts:
                found.append(path)
        return found

    def named(self, name: str) -> list[str]:
        """The files called name, in path order."""
        self._noted.add(MODULE_NAMED + name)
        return sorted(f for f in self.files if posixpath.basename(f) == name)

    def every_file(self) -> list[str]:
        """Every file, in path order."""
        self._noted.add(EVERY_MODULE)
        return sorted(self.files)

    def find(self, dotted: str, near: str | None = None) -> str | None:
        """The file of module `dotted`, preferring the one closest to `near`."""
        self._noted.add(MODULE + dotted)
        candidates = self._by_name.get(dotted)
        if not candidates:
            return self._from_script_dir(dotted, near)
        if len(candidates) == 1 or near is None:
            return sorted(candidates)[0]
        return max(sorted(candidates), key=lambda c: len(posixpath.commonprefix([c, near])))

    def _from_script_dir(self, dotted: str, near: str | None) -> str | None:
        """`dotted` below the folder of a manage.py that holds `near`, when that folder is a
        package (tests/__init__.py beside tests/manage.py): its own top-level modules."""
        if near is None:
            return None
        relative = dotted.replace(".", "/")
        for folder in self._script_dirs:
            if not folder or folder not in self._init_dirs or not near.startswith(f"{folder}/"):
                continue
            for candidate in (f"{folder}/{relative}.py", f"{folder}/{relative}/__init__.py"):
                if candidate in self.files:
                    return candidate
        return None

    def resolve(self, dotted: str, level: int, importer: str) -> str | None:
        if level == 0:
            return self.find(dotted, importer)
        package = self.package_of(importer).split(".") if self.package_of(importer) else []
        if level - 1 > len(package):
            return None
        base = package[: len(package) - (level - 1)]
        full = ".".join(base + ([dotted] if dotted else []))
        if not full:
            return None
        return self.find(full, importer)

    def submodule(self, package_path: str, name: str) -> str | None:
        if posixpath.basename(package_path) != "__init__.py":
            return None
        return self.find(f"{self.module_name(package_path)}.{name}", package_path)

    def named_like(self, dotted: str) -> list[str]:
        """The files of the modules beside `dotted` whose name extends its last part
        (`proj.settings_dev`, `proj.settings_common` for `proj.settings`), in name order."""
        package, _, last = dotted.rpartition(".")
        prefix = f"{package}.{last}" if package else last
        self._noted.add(MODULE_PREFIX + prefix)
        return [paths[0] for name, paths in sorted(self._by_name.items())
                if name.startswith(prefix) and name != dotted and name.rpartition(".")[0] == package]
