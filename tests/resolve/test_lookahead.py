"""lookahead.py: the modules queued one import beyond what the crew guesses, from real parses."""
from __future__ import annotations

import pytest

from qlint.scan.lookahead import Lookahead
from qlint.resolve.modules import ModuleIndex
from qlint.sources.python import parse_facts

FILES = ["app/__init__.py", "app/models/__init__.py", "app/models/user.py", "app/models/group.py",
         "app/models/compat.py", "app/views.py"]
PACKAGE = "from .user import User\nfrom .group import Group\n"
VIEW_BODY = "\n\ndef show(user_id):\n    user = models.User.objects.get(id=user_id)\n    notify.delay(user.pk)\n"


def run(order: list[tuple[str, str]]) -> list[str]:
    queued: list[str] = []
    lookahead = Lookahead(ModuleIndex(FILES), queued.extend)
    for path, source in order:
        lookahead.read(parse_facts(path, source))
    return queued


@pytest.mark.parametrize("package_first", [False, True])
def test_an_attribute_read_of_a_package_queues_the_module_the_package_takes_it_from(package_first):
    view = ("app/views.py", "from app import models\nfrom app.tasks import notify" + VIEW_BODY)
    package = ("app/models/__init__.py", PACKAGE)
    queued = run([package, view] if package_first else [view, package])
    assert queued == ["app/models/user.py"]  # not group.py: Group is never read


def test_a_name_imported_from_a_package_and_an_aliased_module_import_are_followed():
    view = ("app/views.py", "import app.models as m\nfrom app.models import Group\nRATE = m.User.rate + Group.rate\n")
    assert sorted(run([view, ("app/models/__init__.py", PACKAGE)])) == ["app/models/group.py", "app/models/user.py"]


def test_a_chain_of_imports_is_followed_as_each_module_is_read():
    view = ("app/views.py", "from app import models\nfrom app.tasks import notify" + VIEW_BODY)
    package = ("app/models/__init__.py", "from .compat import User\n")
    compat = ("app/models/compat.py", "try:\n    from .user import User\nexcept ImportError:\n    User = None\n")
    assert run([view, package, compat]) == ["app/models/compat.py", "app/models/user.py"]


def test_names_a_module_defines_or_takes_from_outside_the_project_queue_nothing():
    view = ("app/views.py", "from app import models\nX = models.User\nY = models.Group\n")
    package = ("app/models/__init__.py", "from django.contrib.auth.models import User\n\n\nclass Group:\n    pass\n")
    assert run([view, package]) == []
