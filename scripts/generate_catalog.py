"""Generate qlint/catalog/settings.json from the installed Celery's option table.

    python scripts/generate_catalog.py           # rewrite the catalog
    python scripts/generate_catalog.py --check   # exit 1 and describe the drift if stale

The table is `celery.app.defaults.NAMESPACES`, walked with `flatten()`; old names come
from `_TO_NEW_KEY` (every setting has one there: a declared old name such as
CELERY_ACKS_LATE, or its own name in upper case such as BROKER_URL). Defaults are made
JSON-able, and `default_kind` says how to read them back:

    value    the default as is
    tuple    a tuple, stored as a list (the declared type is kept in `type`)
    seconds  a timedelta, stored as seconds
    float    a non-finite float, stored as "inf", "-inf" or "nan"
    repr     an object or callable, stored as a string form
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
    return {"celery_version": celery.__version__, "settings": entries}


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="report drift instead of writing")
    parser.add_argument("--output", type=Path, default=CATALOG_PATH)
    args = parser.parse_args(argv)

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
