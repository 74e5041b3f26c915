"""Generate qlint/catalog/settings.json from the installed Celery's option table.

    python scripts/generate_catalog.py           # rewrite the catalog
    python scripts/generate_catalog.py --check   # exit 1 and describe the drift if stale
    python scripts/generate_catalog.py --releases [--wheels DIR] [--check]
                                                 # the per-release catalog (see below)

The table is `celery.app.defaults.NAMESPACES`, walked with `flatten()`; old names come
from `_TO_NEW_KEY` (every setting has one there: a declared old name such as
CELERY_ACKS_LATE, or its own name in upper case such as BROKER_URL). Defaults are made
JSON-able, and `default_kind` says how to read them back:

    value    the default as is
    tuple    a tuple, stored as a list (the declared type is kept in `type`)
    seconds  a timedelta, stored as seconds
    float    a non-finite float, stored as "inf", "-inf" or "nan"
    repr     an object or callable, stored as a string form

Per release (--releases): for Celery 4.4 and 5.0 to 5.7, the newest patch of each minor
release is fetched with `pip download --no-deps celery==X` (or taken from --wheels DIR),
unpacked, and read in a subprocess that loads only its celery/app/defaults.py and
celery/utils/collections.py (with small stand-ins for the helpers they import), never
in this process and never through celery's own __init__. Written:

    qlint/catalog/releases.json   the index: each release's newest patch, its patches
                                  (from `pip index versions`), Requires-Python, the kombu
                                  it requires, and how its ConfigurationView looks keys up
                                  (both measured on the release's own class: whether an
                                  old name is read under a namespace, and whether a value
                                  written on the app beats the source's namespaced key);
                                  the kombu releases, for ranges on kombu;
                                  and for each setting that not every release has,
                                  the first and the last release that has it
    qlint/catalog/history.json    each older release's settings as differences from the
                                  newest (settings.json): names it lacks, names only it
                                  has (in full), and fields that differ
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

CATALOG_PATH = Path(__file__).resolve().parent.parent / "qlint" / "catalog" / "settings.json"
DJANGO_NAMESPACE = "CELERY"
JSON_SCALARS = (str, int, float, bool, type(None))


def _is_json(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, JSON_SCALARS):
        return True
    if isinstance(value, list):
        return all(_is_json(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _is_json(v) for k, v in value.items())
    return False


def encode_default(default: Any) -> tuple[Any, str]:
    """The JSON form of a Celery default and the kind that tells how to read it back."""
    if isinstance(default, timedelta):
        seconds = default.total_seconds()
        return (int(seconds) if seconds.is_integer() else seconds), "seconds"
    if isinstance(default, float) and not math.isfinite(default):
        return repr(default), "float"
    if isinstance(default, tuple) and _is_json(list(default)):
        return list(default), "tuple"
    if _is_json(default):
        return default, "value"
    if callable(default) and hasattr(default, "__qualname__"):
        return f"{default.__module__}.{default.__qualname__}", "repr"
    return repr(default), "repr"


def type_name(declared: Any) -> str:
    # Celery declares types as strings ('bool', 'float', ...); one option uses the class int.
    return declared if isinstance(declared, str) else declared.__name__


def build_catalog() -> dict[str, Any]:
    """The catalog as a JSON-able dict, read from the installed Celery."""
    import celery
    from celery.app import defaults

    return {"celery_version": celery.__version__, "settings": catalog_entries(defaults)}


def catalog_entries(defaults: Any) -> list[dict[str, Any]]:
    """The settings of a celery.app.defaults module, as the catalog stores them."""
    old_names: dict[str, list[str]] = {}
    for old, new in defaults._TO_NEW_KEY.items():
        old_names.setdefault(new, []).append(old)

    entries = []
    for name, option in sorted(defaults.flatten(defaults.NAMESPACES)):
        default, kind = encode_default(option.default)
        deprecated = None
        if option.deprecate_by or option.remove_by:
            deprecated = {
                "deprecated_in": option.deprecate_by,
                "removed_in": option.remove_by,
                "alternative": option.alt,
            }
        entries.append(
            {
                "name": name,
                "old_names": sorted(old_names.get(name, [])),
                "type": type_name(option.type),
                "default": default,
                "default_kind": kind,
                "django_key": f"{DJANGO_NAMESPACE}_{name.upper()}",
                "deprecated": deprecated,
            }
        )
    return entries


def render(catalog: dict[str, Any]) -> str:
    return json.dumps(catalog, indent=1, sort_keys=True, allow_nan=False) + "\n"


def describe_drift(stored: dict[str, Any], fresh: dict[str, Any]) -> list[str]:
    """Readable differences between the stored settings and freshly generated ones."""
    old = {entry["name"]: entry for entry in stored.get("settings", [])}
    new = {entry["name"]: entry for entry in fresh.get("settings", [])}
    lines = []
    for name in sorted(new.keys() - old.keys()):
        lines.append(f"+ {name}: missing from the stored catalog")
    for name in sorted(old.keys() - new.keys()):
        lines.append(f"- {name}: no longer a Celery setting")
    for name in sorted(old.keys() & new.keys()):
        for field in sorted(old[name].keys() | new[name].keys()):
            before, after = old[name].get(field), new[name].get(field)
            if before != after:
                lines.append(f"~ {name}.{field}: stored {before!r}, Celery has {after!r}")
    return lines


# --- per release ------------------------------------------------------------------------

RELEASES = ("4.4", "5.0", "5.1", "5.2", "5.3", "5.4", "5.5", "5.6", "5.7")
INDEX_PATH = CATALOG_PATH.with_name("releases.json")
HISTORY_PATH = CATALOG_PATH.with_name("history.json")
# Fields of a setting that may differ between releases (name is the key).
FIELDS = ("default", "default_kind", "deprecated", "django_key", "old_names", "type")

# Run in a subprocess with the unpacked wheel's folder and this script's path as arguments.
# It loads the release's celery/app/defaults.py and celery/utils/collections.py as files,
# with stand-ins for the few helpers they import (celery's own __init__ would import kombu,
# billiard, click...), and prints the release's settings and how its ConfigurationView
# looks keys up, measured on the class itself.
PROBE = r"""
import importlib.util, json, queue, sys, time, types
root, script = sys.argv[1], sys.argv[2]

def module(name, package=False, **attrs):
    made = types.ModuleType(name)
    if package:
        made.__path__ = []
    made.__dict__.update(attrs)
    sys.modules[name] = made
    return made

def load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    loaded = importlib.util.module_from_spec(spec)
    sys.modules[name] = loaded
    spec.loader.exec_module(loaded)
    return loaded

def first(predicate, it):
    return next((v for v in it if (predicate(v) if predicate is not None else v is not None)), None)

def uniq(it):
    seen = set()
    return (seen.add(obj) or obj for obj in it if obj not in seen)

module("celery", package=True)
module("celery.app", package=True)
module("celery.utils", package=True)
module("celery.five", PY3=True, Empty=queue.Empty, items=lambda d: d.items(), keys=lambda d: d.keys(),
       values=lambda d: d.values(), monotonic=time.monotonic, python_2_unicode_compatible=lambda c: c,
       string_t=str, string=str)
module("celery.utils.functional", memoize=lambda *a, **k: (lambda f: f), first=first, uniq=uniq)
module("celery.utils.serialization", strtobool=lambda v: v)
load("celery.utils.text", root + "/celery/utils/text.py")
collections = load("celery.utils.collections", root + "/celery/utils/collections.py")
defaults = load("celery.app.defaults", root + "/celery/app/defaults.py")
generator = load("generate_catalog", script)

keys = (lambda k: defaults._TO_NEW_KEY.get(k, k), lambda k: defaults._TO_OLD_KEY.get(k, k))

def read(changes, source, name):
    # As celery.app.utils.detect_settings builds it: [changes, source, defaults], the prefix.
    view = collections.ConfigurationView(changes, [source, dict(defaults.DEFAULTS)], keys=keys, prefix="CELERY")
    return view[name]

print(json.dumps({
    "settings": generator.catalog_entries(defaults),
    "reads_old_names_under_namespace": read({}, {"CELERY_ACKS_LATE": True}, "task_acks_late") is True,
    "app_beats_namespaced_source": read({"task_acks_late": True}, {"CELERY_TASK_ACKS_LATE": False},
                                        "task_acks_late") is True,
}))
"""


def _run(command: list[str]) -> str:
    import subprocess

    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr.strip()}")
    return done.stdout


def available_versions(package: str) -> list[str]:
    """The final releases of a package on the index, from pip's own client."""
    from packaging.version import Version

    out = _run([sys.executable, "-m", "pip", "index", "versions", package])
    line = next((l for l in out.splitlines() if l.startswith("Available versions:")), None)
    if line is None:
        raise SystemExit(f"pip index versions {package}: no version list in its output")
    found = [v.strip() for v in line.split(":", 1)[1].split(",") if v.strip()]
    return sorted((v for v in found if not Version(v).is_prerelease), key=Version)


def minor_of(version: str) -> str:
    from packaging.version import Version

    parsed = Version(version)
    return f"{parsed.major}.{parsed.minor}"


def _wheel(version: str, folder: Path) -> Path:
    found = sorted(folder.glob(f"celery-{version}-*.whl"))
    if not found:
        _run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:", "--quiet",
              f"celery=={version}", "-d", str(folder)])
        found = sorted(folder.glob(f"celery-{version}-*.whl"))
    if not found:
        raise SystemExit(f"pip downloaded no wheel of celery {version} into {folder}")
    return found[0]


def _metadata(unpacked: Path, version: str) -> tuple[str | None, str | None]:
    """Requires-Python, and the kombu requirement without an extra, from the wheel's METADATA."""
    from packaging.requirements import Requirement

    text = (unpacked / f"celery-{version}.dist-info" / "METADATA").read_text(encoding="utf-8")
    python = kombu = None
    for line in text.splitlines():
        if line.startswith("Requires-Python:"):
            python = line.split(":", 1)[1].strip().rstrip(",") or None
        elif line.startswith("Requires-Dist: kombu"):
            requirement = Requirement(line.split(":", 1)[1].strip())
            if requirement.name == "kombu" and (requirement.marker is None or "extra" not in str(requirement.marker)):
                kombu = str(requirement.specifier)
    return python, kombu


def read_release(wheel: Path, version: str) -> dict[str, Any]:
    """One release's settings and lookup, read from its wheel in a subprocess."""
    import tempfile
    import zipfile

    with tempfile.TemporaryDirectory() as scratch:
        with zipfile.ZipFile(wheel) as archive:
            archive.extractall(scratch)
        probed = json.loads(_run([sys.executable, "-c", PROBE, scratch, str(Path(__file__).resolve())]))
        python, kombu = _metadata(Path(scratch), version)
    probed["requires_python"], probed["kombu"] = python, kombu
    return probed


def differences(newest: list[dict[str, Any]], older: list[dict[str, Any]]) -> dict[str, Any]:
    """An older release's settings as differences from the newest release's."""
    new = {e["name"]: e for e in newest}
    old = {e["name"]: e for e in older}
    changed = {}
    for name in sorted(new.keys() & old.keys()):
        fields = {f: old[name].get(f) for f in FIELDS if old[name].get(f) != new[name].get(f)}
        if fields:
            changed[name] = fields
    return {
        "absent": sorted(new.keys() - old.keys()),
        "only_here": [old[name] for name in sorted(old.keys() - new.keys())],
        "changed": changed,
    }


def build_releases(wheels: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """(releases.json, history.json) as JSON-able dicts, from each release's wheel."""
    celery_versions = available_versions("celery")
    kombu_versions = available_versions("kombu")
    index: list[dict[str, Any]] = []
    settings: dict[str, list[dict[str, Any]]] = {}
    for release in RELEASES:
        patches = [v for v in celery_versions if minor_of(v) == release]
        if not patches:
            raise SystemExit(f"no final celery {release}.x on the index")
        version = patches[-1]
        probed = read_release(_wheel(version, wheels), version)
        settings[release] = probed["settings"]
        index.append({
            "release": release,
            "version": version,
            "patches": patches,
            "requires_python": probed["requires_python"],
            "kombu": probed["kombu"],
            "settings": len(probed["settings"]),
            "reads_old_names_under_namespace": probed["reads_old_names_under_namespace"],
            "app_beats_namespaced_source": probed["app_beats_namespaced_source"],
        })
        print(f"read celery {version}: {len(probed['settings'])} settings", file=sys.stderr)
    newest = RELEASES[-1]
    stored = json.loads(CATALOG_PATH.read_text(encoding="utf-8"))
    if stored.get("celery_version") != index[-1]["version"] or stored.get("settings") != settings[newest]:
        raise SystemExit(f"{CATALOG_PATH.name} is not celery {index[-1]['version']}'s catalog: install that release and "
                         "run this script without --releases first")
    oldest_kombu = (4, 6)
    kombu: dict[str, list[str]] = {}
    for version in kombu_versions:
        minor = minor_of(version)
        if tuple(map(int, minor.split("."))) >= oldest_kombu:
            kombu.setdefault(minor, []).append(version)
    lifetimes: dict[str, dict[str, Any]] = {}
    every = sorted({e["name"] for entries in settings.values() for e in entries})
    for name in every:
        having = [r for r in RELEASES if any(e["name"] == name for e in settings[r])]
        if len(having) < len(RELEASES):
            last = next(e for e in settings[having[-1]] if e["name"] == name)
            lifetimes[name] = {"first": having[0], "last": having[-1], "old_names": last["old_names"]}
    releases = {"newest": newest, "celery": index, "kombu": kombu, "lifetimes": lifetimes}
    history = {release: differences(settings[newest], settings[release]) for release in RELEASES[:-1]}
    return releases, history


def _check_releases(releases: dict[str, Any], history: dict[str, Any]) -> list[str]:
    drift = []
    for path, fresh in ((INDEX_PATH, releases), (HISTORY_PATH, history)):
        try:
            stored = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            drift.append(f"cannot read {path}: {exc}")
            continue
        if stored != fresh:
            keys = sorted(k for k in fresh.keys() | stored.keys() if stored.get(k) != fresh.get(k))
            drift.append(f"{path.name} differs from the releases in: {', '.join(map(str, keys))}")
    newest = releases["celery"][-1]["version"]
    in_settings = json.loads(CATALOG_PATH.read_text(encoding="utf-8")).get("celery_version")
    if in_settings != newest:
        drift.append(f"settings.json is of celery {in_settings}, the newest release is {newest}")
    return drift


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="report drift instead of writing")
    parser.add_argument("--output", type=Path, default=CATALOG_PATH)
    parser.add_argument("--releases", action="store_true",
                        help="the per-release catalog (releases.json, history.json) from each release's wheel")
    parser.add_argument("--wheels", type=Path, help="folder of celery wheels (downloaded there when missing)")
    args = parser.parse_args(argv)

    if args.releases:
        import tempfile

        with tempfile.TemporaryDirectory() as scratch:
            wheels = args.wheels or Path(scratch)
            wheels.mkdir(parents=True, exist_ok=True)
            releases, history = build_releases(wheels)
        if args.check:
            drift = _check_releases(releases, history)
            if drift:
                print("\n".join(drift), file=sys.stderr)
            return 1 if drift else 0
        INDEX_PATH.write_text(render(releases), encoding="utf-8")
        HISTORY_PATH.write_text(json.dumps(history, sort_keys=True, separators=(",", ":"), allow_nan=False) + "\n",
                                encoding="utf-8")
        print(f"wrote {len(releases['celery'])} releases to {INDEX_PATH} and {HISTORY_PATH}")
        return 0

    fresh = build_catalog()
    if args.check:
        try:
            stored = json.loads(args.output.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            print(f"cannot read {args.output}: {exc}", file=sys.stderr)
            return 1
        drift = describe_drift(stored, fresh)
        if drift:
            print(f"{args.output} differs from celery {fresh['celery_version']}:", file=sys.stderr)
            print("\n".join(drift), file=sys.stderr)
            return 1
        return 0
    args.output.write_text(render(fresh), encoding="utf-8")
    print(f"wrote {len(fresh['settings'])} settings from celery {fresh['celery_version']} to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
