"""How fast `qlint check` is, as a ratio to plain `ast.parse` of the same files.

    python benchmarks/check_speed.py                 # Django's sdist, downloaded from PyPI once
    python benchmarks/check_speed.py PATH [PATH...]  # any trees, e.g. a Celery project you cloned

For each tree: the number of Python files and lines; the time to read and `ast.parse`
every .py file (the baseline); `qlint check` cold (no .qlint_cache) and warm (cache
filled, nothing changed), run in this process through the same calls as the CLI; and
each qlint time divided by the baseline. Targets: cold <= 0.5, warm <= 0.1.
"""
from __future__ import annotations

import argparse
import ast
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
CACHE = HERE / ".cache"
DJANGO = "django==5.1.4"


def django_tree() -> Path:
    """Django's sdist, unpacked under benchmarks/.cache (downloaded once)."""
    target = CACHE / "django"
    if target.is_dir():
        return next(target.iterdir())
    CACHE.mkdir(exist_ok=True)
    subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:",
                    DJANGO, "-d", str(CACHE)], check=True)
    archive = next(CACHE.glob("[dD]jango-*.tar.gz"))
    with tarfile.open(archive) as tar:
        tar.extractall(target, filter="data")
    return next(target.iterdir())


def baseline(files: list[Path]) -> tuple[float, int]:
    lines = 0
    start = time.perf_counter()
    for path in files:
        data = path.read_bytes()
        lines += data.count(b"\n")
        try:
            ast.parse(data, str(path))
        except (SyntaxError, ValueError):
            pass
    return time.perf_counter() - start, lines


def qlint_check(root: Path) -> tuple[float, int]:
    from qlint.analysis import analyse
    from qlint.engine import check
    from qlint.project_config import load_config

    start = time.perf_counter()
    analysis = analyse(["."], cwd=root, root=root, use_cache=True)
    result = check(analysis, load_config(root), ["."])
    return time.perf_counter() - start, len(result.findings)


def measure(root: Path) -> dict[str, float]:
    from qlint.discovery import walk

    files = [p for p in walk(root) if p.suffix == ".py"]
    parse_time, lines = baseline(files)
    shutil.rmtree(root / ".qlint_cache", ignore_errors=True)
    cold, findings = qlint_check(root)
    warm, _ = qlint_check(root)
    return {"files": len(files), "lines": lines, "ast_parse": parse_time, "cold": cold, "warm": warm,
            "findings": findings}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path)
    args = parser.parse_args()
    trees = args.paths or [django_tree()]
    print(f"{'tree':<40} {'files':>6} {'lines':>9} {'ast.parse':>10} {'cold':>8} {'ratio':>6} {'warm':>8} {'ratio':>6}")
    for root in trees:
        m = measure(root.resolve())
        print(f"{root.name[:40]:<40} {m['files']:>6} {m['lines']:>9} {m['ast_parse']:>9.2f}s {m['cold']:>7.2f}s "
              f"{m['cold'] / m['ast_parse']:>6.2f} {m['warm']:>7.2f}s {m['warm'] / m['ast_parse']:>6.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
