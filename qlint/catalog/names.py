"""Which setting, if any, Celery reads from a key of a configuration source.

How Celery 5.7 reads a configuration source (checked against the installed Celery;
celery/app/utils.py detect_settings and Settings, celery/utils/collections.py
ConfigurationView). `lookup_keys()` and `classify()` implement it:

- For each setting, Celery tries a list of keys in each source and the first one
  present wins: with a namespace, `<NAMESPACE>_<NAME>` (upper case when the namespace
  is upper case, lower case otherwise; a name that already starts with a lower-case
  namespace is not prefixed twice), then the current name, then its old name. So under
  `config_from_object("django.conf:settings", namespace="CELERY")`,
  CELERY_TASK_ACKS_LATE is read first, but an old name such as CELERY_ACKS_LATE or
  CELERYD_PREFETCH_MULTIPLIER is still read when the new spellings are absent (the
  documentation says otherwise; Celery 5.7's code reads them). CELERY_RESULT_BACKEND
  is at once the namespaced key and the old name of result_backend.
- A key that is neither of these is silently ignored: Celery never validates names,
  so a typo such as CELERY_TASK_ACK_LATE simply leaves the default in force. Under a
  namespace the case matters: `celery_task_acks_late` is not read under "CELERY".
- Without a namespace, old and new names may not be mixed in one source: when both
  kinds are present, Celery goes with the majority (new on a tie) and raises
  ImproperlyConfigured listing every minority key whose counterpart is not also set
  (E_MIX_OLD_INTO_NEW: "Cannot mix new and old setting keys, please rename the
  following settings to the new format"; E_MIX_NEW_INTO_OLD the other way). With a
  namespace no such check is made.
- Some settings are read through properties that look elsewhere first or also (see
  ENVIRONMENT_OVERRIDES and PROPERTY_FALLBACKS): the environment variable
  CELERY_BROKER_URL beats every file, and timezone falls back to Django's TIME_ZONE.
- A few keys are read with conf.get() without being declared settings
  (`read_undeclared`): result_backend_thread_safe, CELERY_DB_REUSE_MAX...
- Values from a configuration object are used as given, never converted to the
  declared type (see `coerce_kind`).

Older releases differ (releases.py holds each release's settings and lookup): up to
5.6, an old name under a namespace is never read, and the source's namespaced key beats
a value written on the app under the plain name. `classify()` and `lookup_keys()` take
the release; without one they answer for the newest release qlint knows.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal, Mapping

from qlint.catalog import releases
from qlint.catalog.data import (
    PROPERTY_FALLBACKS,
    UNDECLARED_RAW_READS,
    UNDECLARED_READS,
    Setting,
    from_old_name,
    get,
    settings,
)

Kind = Literal[
    "namespaced",  # <NAMESPACE>_<NAME> under a namespace: read first
    "current",  # the current name itself (under a namespace: read after the namespaced key)
    "old",  # an old name, no namespace: read; mixing old and new raises ImproperlyConfigured
    "old-under-namespace",  # an old name under a namespace: read last by Celery 5.7+, ignored up to 5.6
    "not-in-release",  # a setting of other Celery releases, which this one does not have
    "fallback",  # not a setting, but read when the setting is unset (TIME_ZONE for timezone)
    "unknown-prefixed",  # looks like a setting (CELERY_FOO, task_foo) but Celery ignores it
    "unrelated",  # anything else (DEBUG, DATABASES)
]

# Spellings that mark a key as meant for Celery when there is no namespace: the
# prefixes of old names (CELERYD_CONCURRENCY...) and BROKER_, the Celery 3 spelling of
# every broker setting.
_UPPER_PREFIXES = ("CELERY_", "CELERYD_", "CELERYBEAT_", "BROKER_")


def _prefix(namespace: str) -> str:
    return namespace.rstrip("_") + "_"


def _namespaced(name: str, prefix: str) -> str:
    # Celery's match_case: the key takes the case of the prefix, and a name that
    # already starts with the prefix (case-sensitively) is not prefixed twice.
    key = name if name.startswith(prefix) else prefix + name
    return key.upper() if prefix.isupper() else key.lower()


def namespaced_key(setting: Setting | str, namespace: str) -> str:
    """The key Celery reads first for a setting under `namespace` ("CELERY" → CELERY_TASK_ACKS_LATE)."""
    name = setting if isinstance(setting, str) else setting.name
    return _namespaced(name, _prefix(namespace))


def lookup_keys(setting: Setting | str, namespace: str | None = None, release: str | None = None) -> tuple[str, ...]:
    """The keys Celery tries for a setting in one configuration source, in order.

    The first key present in the source wins (ConfigurationView._to_keys): the
    namespaced key, then the current name, then the old name — which Celery up to 5.6
    never reaches under a namespace (`release`: the Celery release; None is the newest).
    """
    name = setting if isinstance(setting, str) else setting.name
    found = releases.get(name, release)
    old = found.old_names if found else ()
    if namespace and not releases.reads_old_names_under_namespace(release):
        old = ()
    keys = ((namespaced_key(name, namespace),) if namespace else ()) + (name,) + old
    return tuple(dict.fromkeys(keys))


def read_undeclared(key: str, namespace: str | None = None) -> bool:
    """True for a key Celery reads although it is not a declared setting
    (CELERY_RESULT_BACKEND_THREAD_SAFE under namespace "CELERY")."""
    if key in UNDECLARED_READS or key in UNDECLARED_RAW_READS:
        return True
    return bool(namespace) and any(key == namespaced_key(name, namespace) for name in UNDECLARED_READS)


@lru_cache(maxsize=32)
def _namespaced_index(namespace: str, release: str | None = None) -> Mapping[str, Setting]:
    prefix = _prefix(namespace)
    index: dict[str, Setting] = {}
    for setting in releases.settings_of(release).values():
        index.setdefault(_namespaced(setting.name, prefix), setting)
    return index


@lru_cache(maxsize=16)
def _fallback_index(namespace: str | None) -> Mapping[str, Setting]:
    """Keys read only as a property's fallback, for keys that are not settings themselves."""
    index: dict[str, Setting] = {}
    for name, fallbacks in PROPERTY_FALLBACKS.items():
        for fallback in fallbacks:
            if get(fallback) is None and from_old_name(fallback) is None:
                for key in lookup_keys(fallback, namespace):
                    index.setdefault(key, settings()[name])
    return index


def from_namespaced(key: str, namespace: str, release: str | None = None) -> Setting | None:
    """The setting whose namespaced key under `namespace` is exactly `key`, else None.

    from_namespaced("CELERY_TASK_ACKS_LATE", "CELERY") is task_acks_late; the case
    follows the namespace as in Celery, so under "celery" the key is celery_task_acks_late.
    """
    return _namespaced_index(namespace, release).get(key)


@lru_cache(maxsize=32)
def _other_releases_index(namespace: str | None, release: str | None) -> Mapping[str, str]:
    """Spellings of the settings that some known release has and `release` lacks -> the setting."""
    index: dict[str, str] = {}
    for name, span in releases.lifetimes().items():
        if releases.has_setting(name, release):
            continue
        # Old names too, under a namespace as well: the key belongs to that setting either way.
        spellings = [namespaced_key(name, namespace), name, *span.old_names] if namespace else [name, *span.old_names]
        for spelling in spellings:
            index.setdefault(spelling, name)
    return index


def _other_release_text(name: str, release: str | None) -> str:
    return (f"{name}: {releases.lifetime_text(name)}; Celery {release or releases.newest()} does not have it "
            "and ignores the key")


@dataclass(frozen=True)
class Classification:
    key: str
    kind: Kind
    setting: Setting | None
    namespace: str | None
    # Celery reads this key as `setting`.
    read: bool
    # What Celery does with the key, in a sentence a rule can quote.
    explanation: str


def _looks_like_setting(key: str, namespace: str | None) -> bool:
    if namespace:
        return key.upper().startswith(_prefix(namespace).upper())
    if key.isupper():
        return key.startswith(_UPPER_PREFIXES)
    return "_" in key and key.split("_", 1)[0] in _groups()


@lru_cache(maxsize=1)
def _groups() -> frozenset[str]:
    """First words shared by several current names: task, worker, broker, result..."""
    firsts = [name.split("_", 1)[0] for name in settings()]
    return frozenset(word for word in firsts if firsts.count(word) > 1)


def classify(key: str, namespace: str | None = None, release: str | None = None) -> Classification:
    """What Celery makes of `key` in a source loaded with config_from_object(..., namespace).

    `release`: the Celery release that reads it ("5.5"); None is the newest qlint knows.
    """
    if namespace:
        setting = from_namespaced(key, namespace, release)
        if setting:
            return Classification(key, "namespaced", setting, namespace, True, f"read as {setting.name}")
    setting = releases.get(key, release)
    if setting:
        text = f"read as {setting.name}"
        if namespace:
            text += f", unless {namespaced_key(setting, namespace)} is set in the same source"
        return Classification(key, "current", setting, namespace, True, text)
    setting = releases.from_old_name(key, release)
    if setting:
        if namespace and not releases.reads_old_names_under_namespace(release):
            text = (
                f"old name of {setting.name}; Celery {release} ignores old names under namespace {namespace!r}: "
                f"{setting.name} is read only as {namespaced_key(setting, namespace)} or {setting.name}"
            )
            return Classification(key, "old-under-namespace", setting, namespace, False, text)
        if namespace:
            text = (
                f"old name of {setting.name}; under namespace {namespace!r} Celery still reads it, but only "
                f"when neither {namespaced_key(setting, namespace)} nor {setting.name} is set in the same source"
            )
            return Classification(key, "old-under-namespace", setting, namespace, True, text)
        text = f"old name of {setting.name}; mixed with new names in one source it makes Celery raise ImproperlyConfigured"
        return Classification(key, "old", setting, namespace, True, text)
    setting = _fallback_index(namespace).get(key)
    if setting:
        text = f"not a Celery setting, but Celery reads it for {setting.name} when {setting.name} is not set"
        return Classification(key, "fallback", setting, namespace, True, text)
    other = _other_releases_index(namespace, release).get(key)
    if other is not None:
        return Classification(key, "not-in-release", releases.setting_in_any(other), namespace, False,
                              _other_release_text(other, release))
    if _looks_like_setting(key, namespace):
        return Classification(key, "unknown-prefixed", None, namespace, False, "not a Celery setting: Celery ignores it")
    return Classification(key, "unrelated", None, namespace, False, "not meant for Celery")


def _spellings(namespace: str | None, upper: bool = False) -> dict[str, tuple[str, str]]:
    """Every key Celery reads in this context: upper-case form -> (spelling, setting name).

    Without a namespace an upper-case key can only be meant as an old name (the current
    names are lower case), and a lower-case one as a current name.
    """
    if namespace:
        return {key.upper(): (key, s.name) for key, s in _namespaced_index(namespace).items()}
    out = {}
    for setting in settings().values():
        for spelling in (setting.old_names if upper else (setting.name,)):
            out.setdefault(spelling.upper(), (spelling, setting.name))
    return out


# A candidate must be this similar to the key, and this close to the best candidate.
_CUTOFF = 0.75
_BAND = 0.05


def _strip(key: str, prefix: str) -> str:
    return key[len(prefix):] if key.startswith(prefix) else key


def suggest(key: str, namespace: str | None = None, limit: int = 3) -> list[str]:
    """Real keys close to one that Celery ignores (CELERY_TASK_ACK_LATE → CELERY_TASK_ACKS_LATE).

    Candidates are the keys Celery reads in that context (namespaced keys under a
    namespace, else current and old names), one per setting, compared without case and
    without the namespace prefix that they all share. Only the best matches are kept,
    so a typo gets one answer, not a list of lookalikes. Empty for keys Celery reads.
    Under a namespace, a key without the prefix gets a suggestion only when adding
    the prefix makes it a real key (TASK_ACKS_LATE → CELERY_TASK_ACKS_LATE).
    """
    if classify(key, namespace).read:
        return []
    spellings = _spellings(namespace, key.isupper())
    wanted = key.upper()
    if wanted in spellings:
        return [spellings[wanted][0]]
    prefix = _prefix(namespace).upper() if namespace else ""
    if not wanted.startswith(prefix):
        # Most keys of a Django settings module lack the prefix and are not meant for
        # Celery: suggest only when the prefix is all that is missing.
        return [spellings[prefix + wanted][0]] if prefix + wanted in spellings else []
    core = _strip(wanted, prefix)
    best: dict[str, tuple[float, str]] = {}
    matcher = difflib.SequenceMatcher(None, core)
    for upper, (spelling, name) in spellings.items():
        matcher.set_seq2(_strip(upper, prefix))
        # Both quick ratios bound ratio() from above: most candidates fail them, cheaply.
        if matcher.real_quick_ratio() < _CUTOFF or matcher.quick_ratio() < _CUTOFF:
            continue
        score = matcher.ratio()
        if score >= _CUTOFF and score > best.get(name, (0.0, ""))[0]:
            best[name] = (score, spelling)
    if not best:
        return []
    top = max(score for score, _ in best.values())
    ranked = sorted((item for item in best.values() if item[0] >= top - _BAND), reverse=True)
    return [spelling for _, spelling in ranked[:limit]]
