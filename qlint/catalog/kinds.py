"""Whether a Python value fits a setting's declared type.

Celery never converts values taken from a configuration object (Option.to_python is
used only for command-line and environment input), so a string "False" for a bool
setting is truthy and a string "3600" for a time limit reaches the worker as a string.
Celery's own declarations are loose in places (task_default_delivery_mode is declared
'string' but defaults to 2; ports and priorities are numbers), so the check accepts
numbers for string settings: it flags only what is certainly wrong.
"""
from __future__ import annotations

from collections.abc import Mapping, Set
from datetime import timedelta
from typing import Any

from qlint.catalog.data import Setting


# Where Celery's documentation (and code) accepts more than the declared type.
_ALSO_ACCEPTED: dict[str, tuple[type, ...]] = {
    "broker_use_ssl": (Mapping,),  # True, or a dict of ssl options
    "cassandra_auth_kwargs": (Mapping,),  # declared 'string', used as keyword arguments
    "task_queues": (list, tuple, Set),  # declared 'dict', usually a sequence of Queue objects
    # several broker URLs (failover) may be given as a list
    "broker_url": (list, tuple),
    "broker_read_url": (list, tuple),
    "broker_write_url": (list, tuple),
}


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def coerce_kind(setting: Setting, value: Any) -> bool:
    """True when `value` is something Celery can use for `setting` as given.

    None fits a setting whose default is None (it means "unset"). Types Celery does
    not constrain ('any', unknown names) accept everything.
    """
    if value is None:
        return setting.default is None or setting.type == "any"
    if isinstance(value, _ALSO_ACCEPTED.get(setting.name, ())):
        return True
    kind = setting.type
    if kind == "bool":
        return isinstance(value, bool) or (isinstance(value, int) and value in (0, 1))
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "float":
        if isinstance(value, timedelta):
            # Only result_expires is documented to take a timedelta; its default is one.
            return setting.default_kind == "seconds"
        return _is_number(value)
    if kind in ("string", "str"):
        return isinstance(value, str) or _is_number(value)
    if kind == "bytes":
        return isinstance(value, (bytes, str))
    if kind == "dict":
        return isinstance(value, Mapping)
    if kind in ("list", "tuple"):
        return isinstance(value, (list, tuple, Set))
    return True
