"""Which files hold tests, by the conventions of Python projects."""
from __future__ import annotations

import re

_TEST_PART = re.compile(r"(^|[/._-])(tests?|testing|conftest|pytest|ci|unittest|test_settings|settings_test)([/._-]|$)",
                        re.I)


def is_test_path(path: str) -> bool:
    return bool(_TEST_PART.search(path))
