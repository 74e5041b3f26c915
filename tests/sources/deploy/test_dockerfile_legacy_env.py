"""ENV in the old form (`ENV NAME value`): Docker removes the quotes of a one-word value, as
openedx/ecommerce's `ENV DJANGO_SETTINGS_MODULE "ecommerce.settings.devstack"` relies on."""
from __future__ import annotations

from qlint.sources.deploy import read_deploy_file


def env_of(text: str) -> dict[str, tuple[str, object]]:
    return {v.name: (v.value.status, v.value.value) for v in read_deploy_file("Dockerfile", text).env}


def test_quoted_one_word_values_lose_their_quotes():
    env = env_of('FROM python:3.12 AS app\nENV ECOMMERCE_CFG "/edx/etc/ecommerce.yml"\n\nFROM app AS dev\n'
                 'ENV DJANGO_SETTINGS_MODULE "ecommerce.settings.devstack"\n'
                 "ENV LITERAL '$HOME/x'\nENV DEFAULTED \"${DATA:-/srv}/data\"\nENV SPACED a value with spaces\n")
    assert env["DJANGO_SETTINGS_MODULE"] == ("known", "ecommerce.settings.devstack")
    assert env["LITERAL"] == ("known", "$HOME/x")  # single quotes: no expansion
    assert env["DEFAULTED"] == ("env-default", "/srv/data")
    assert env["SPACED"] == ("known", "a value with spaces")


def test_settings_module_from_a_quoted_env_in_a_project(tmp_path):
    from qlint.pipeline.analysis import analyse
    from tests.resolve.conftest import write_tree

    write_tree(tmp_path, {
        "Dockerfile": 'FROM python:3.12\nCOPY . /app\nENV DJANGO_SETTINGS_MODULE "shop.settings.production"\n'
                      'CMD celery -A shop worker\n',
        "shop/__init__.py": "",
        "shop/celery.py": "import os\nfrom celery import Celery\n\n"
                          "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'shop.settings.local')\n"
                          "app = Celery('shop')\napp.config_from_object('django.conf:settings')\n",
        "shop/settings/__init__.py": "",
        "shop/settings/local.py": "CELERY_TASK_SERIALIZER = 'json'\n",
        "shop/settings/production.py": "CELERY_TASK_SERIALIZER = 'pickle'\n",
    })
    (app,) = analyse(["."], cwd=tmp_path, root=tmp_path, use_cache=False).project.apps
    assert app.source_path == "shop/settings/production.py"
    assert app.setting("task_serializer").value == "pickle"
