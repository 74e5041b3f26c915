"""The project's files as the readers of deployment and dependency files ask about them: whether
a path is there (a Dockerfile's COPY source, a requirements file's `-r`), and which files have a
name (a Dockerfile's `pip install -r requirements.txt`). Each question is noted: a later run
whose only changes are files added or removed can tell whether the answers could differ
(run_cache.py)."""
from __future__ import annotations

from typing import Collection, Iterator

from qlint.scan.run_cache import LOOKED_FOR


class FileSet(Collection[str]):
    def __init__(self, paths: Collection[str], noted: set[str]) -> None:
        self._paths = paths
        self._noted = noted
        self._by_name: dict[str, list[str]] | None = None

    def __contains__(self, path: object) -> bool:
        if isinstance(path, str):
            self._noted.add(path)
        return path in self._paths

    def named(self, name: str) -> list[str]:
        """The paths whose last part is name."""
        self._noted.add(LOOKED_FOR + name)
        if self._by_name is None:
            self._by_name = {}
            for path in self._paths:
                self._by_name.setdefault(path.rpartition("/")[2], []).append(path)
        return self._by_name.get(name, [])

    def __iter__(self) -> Iterator[str]:
        raise TypeError("a FileSet answers questions about paths; it does not list them")

    def __len__(self) -> int:
        return len(self._paths)
