"""What the serialization rules share: serializer names and content types (kombu's
registry), and reading accept lists."""
from __future__ import annotations

from qlint.model import Value

# kombu.serialization.registry.name_to_type for the serializers kombu ships.
CONTENT_TYPES = {
    "json": "application/json",
    "pickle": "application/x-python-serialize",
    "yaml": "application/x-yaml",
    "msgpack": "application/x-msgpack",
    "auth": "application/data",  # registered by app.setup_security()
}
PICKLE = frozenset({"pickle", CONTENT_TYPES["pickle"], "application/group-python-serialize"})


def registered_elsewhere(name: str) -> bool:
    """A serializer name kombu does not ship: registered by the project
    (kombu.serialization.register, an entry point) with a content type qlint does not read."""
    return name not in CONTENT_TYPES and "/" not in name


def content_type(name: str) -> str:
    """A serializer name or a content type, as the content type kombu compares."""
    return CONTENT_TYPES.get(name, name)


def names(value: Value) -> list[str] | None:
    """The entries of an accept list when certain (a string counts as one entry); else None."""
    options = value.possible()
    if len(options) != 1:
        return None
    raw = options[0].value
    if isinstance(raw, str):
        return [raw]
    if isinstance(raw, (list, tuple, set, frozenset)) and all(isinstance(v, str) for v in raw):
        return list(raw)
    return None


def certain_string(value: Value | None) -> str | None:
    if value is None:
        return None
    options = value.possible()
    texts = {v.value for v in options if isinstance(v.value, str)}
    return texts.pop() if len(texts) == 1 and len(options) == len([v for v in options if isinstance(v.value, str)]) else None
