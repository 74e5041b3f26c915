"""Broker URLs as qlint prints them: never with a password."""
from __future__ import annotations

from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

_SECRET_PARAMS = {"password", "sentinel_password"}


def redacted(url: str) -> str:
    """The URL with its password (in the authority or the query) replaced by `***`."""
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if "@" in netloc:
            auth, host = netloc.rsplit("@", 1)
            user, has_password, _ = auth.partition(":")
            # A lone name before `@` may be a token (some providers put the password there).
            netloc = f"{user}:***@{host}" if has_password else f"***@{host}"
        query = urlencode([(k, "***" if k.lower() in _SECRET_PARAMS else v)
                           for k, v in parse_qsl(parts.query, keep_blank_values=True)], safe="*")
        return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
    except ValueError:
        return "<broker URL not shown>"


def secrets(url: str) -> list[str]:
    """The secrets a URL holds, to scrub from anything printed (a client's error message)."""
    out = []
    try:
        parts = urlsplit(url)
        if parts.password:
            out.append(parts.password)
        elif parts.username:
            out.append(parts.username)
        out += [v for k, v in parse_qsl(parts.query) if k.lower() in _SECRET_PARAMS and v]
    except ValueError:
        pass
    # Both as written and decoded: a client may print either.
    return sorted({s for x in out for s in (x, unquote(x)) if s}, key=len, reverse=True)


def scrub(text: str, url: str) -> str:
    for secret in secrets(url):
        text = text.replace(secret, "***")
    return text
