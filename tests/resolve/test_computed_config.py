"""Configuration handed to app.conf.update() as a computed mapping: a dict comprehension or
dict() over a module's namespace (settings.__dict__, vars(settings)) with keys filtered and
transformed, and app.namespace set after the app is made. Celery renames the old keys it is
given this way (celery/app/utils.py detect_settings), whatever the namespace."""
from __future__ import annotations

from qlint.pipeline.engine import run_rules
from qlint.rules import all_rules
from tests.resolve.conftest import where

DJANGO_SETTINGS = {
    "manage.py": "import os\nos.environ.setdefault('DJANGO_SETTINGS_MODULE', 'site.settings')\n",
    "site/__init__.py": "",
    "site/settings/__init__.py": "from .base import *\nfrom .libs import *\n",
    "site/settings/base.py": "DEBUG = False\nINSTALLED_APPS = ['ops']\n",
    "site/settings/libs.py": """
        CELERY_BROKER_URL = "redis://redis:6379/3"
        CELERY_TASK_SERIALIZER = "pickle"
        CELERY_RESULT_SERIALIZER = "pickle"
        CELERY_ACCEPT_CONTENT = ["json", "pickle"]
        CELERY_WORKER_PREFETCH_MULTIPLIER = 1
        CELERY_REDIS_HOST = "redis"
    """,
}

COMPREHENSION_APP = """
    import os
    from celery import Celery
    from kombu import Exchange, Queue

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "site.settings")
    from site import settings

    app = Celery("site")

    configs = {k: v for k, v in settings.__dict__.items() if k.startswith("CELERY")}
    configs["CELERY_QUEUES"] = [
        Queue("celery", Exchange("celery"), routing_key="celery"),
    ]

    app.namespace = "CELERY"
    app.conf.update(configs)
"""


def codes(analysis) -> list[tuple[str, str, int]]:
    found = run_rules(analysis, all_rules())
    return sorted((f.code, f.span.path, f.span.line) for f in found)


def test_comprehension_over_a_settings_namespace(analyse_tree):
    analysis = analyse_tree({**DJANGO_SETTINGS, "ops/__init__.py": "", "ops/celery.py": COMPREHENSION_APP})
    (app,) = analysis.project.apps
    assert app.namespace == "CELERY"
    assert app.setting("task_serializer").value == "pickle"
    assert where(app.setting("task_serializer")) == ("site/settings/libs.py", 2)
    assert app.setting("accept_content").value == ["json", "pickle"]
    # the namespaced new spelling is read under app.namespace, as Settings(prefix="CELERY") does
    assert app.setting("broker_url").value == "redis://redis:6379/3"
    assert app.setting("worker_prefetch_multiplier").value == 1
    assert where(app.setting("task_queues")) == ("ops/celery.py", 11)
    found = codes(analysis)
    assert ("QL203", "site/settings/libs.py", 2) in found
    assert ("QL203", "site/settings/libs.py", 4) in found
    # CELERY_QUEUES is renamed to task_queues even under the namespace: deprecated, in effect
    assert ("QL002", "ops/celery.py", 11) in found
    assert [c for c in found if c[0] == "QL002"] == [("QL002", "ops/celery.py", 11)]


def test_dict_of_pairs_with_transformed_keys(analyse_tree):
    """udata's form: prefix stripped and lower-cased, so old and new names both come out."""
    analysis = analyse_tree({
        "proj/__init__.py": "",
        "proj/settings.py": """
            CELERY_TASK_SERIALIZER = "pickle"
            CELERY_ACCEPT_CONTENT = ["pickle", "json"]
            CELERY_BROKER_URL = "redis://localhost:6379"
            CELERY_TASK_ACKS_LATE = True
            SECRET_KEY = "x"
        """,
        "proj/worker.py": """
            from celery import Celery
            from proj import settings

            celery = Celery("proj")
            celery.conf.update(
                **dict(
                    (k.replace("CELERY_", "").lower(), v)
                    for k, v in vars(settings).items()
                    if k.startswith("CELERY_")
                )
            )
        """,
    })
    (app,) = analysis.project.apps
    assert app.setting("task_serializer").value == "pickle"
    assert where(app.setting("task_serializer")) == ("proj/settings.py", 1)
    assert app.setting("broker_url").value == "redis://localhost:6379"
    assert app.setting("task_acks_late").value is True
    assert app.setting("secret_key").value is None  # filtered out, and no setting anyway
    assert ("QL203", "proj/settings.py", 1) in codes(analysis)


def test_a_filter_qlint_cannot_evaluate_leaves_the_settings_unknown(analyse_tree):
    analysis = analyse_tree({
        "proj/__init__.py": "",
        "proj/settings.py": 'CELERY_TASK_SERIALIZER = "pickle"\n',
        "proj/worker.py": """
            from celery import Celery
            from proj import settings
            from proj.helpers import wanted

            app = Celery("proj")
            app.conf.update({k: v for k, v in settings.__dict__.items() if wanted(k)})
        """,
    })
    (app,) = analysis.project.apps
    assert app.setting("task_serializer").status == "unknown"
    assert "QL203" not in {code for code, _, _ in codes(analysis)}


def test_comprehensions_qlint_does_not_follow_are_unknown(analyse_tree):
    analysis = analyse_tree({
        "proj/__init__.py": "",
        "proj/worker.py": """
            import os
            from celery import Celery

            app = Celery("proj")
            app.conf.update({k.lower(): v for k, v in os.environ.items() if k.startswith("CELERY_")})
            app.conf.update({a + b: 1 for a in "xy" for b in "z"})
            app.conf.update({k: v for k in range(3)})
            QUEUES = [name.upper() for name in ("low", "high")]
            app.conf.task_default_queue = QUEUES[0]
        """,
    })
    (app,) = analysis.project.apps
    assert app.setting("task_serializer").status == "unknown"
    assert app.setting("task_default_queue").value == "LOW"


def test_namespace_assigned_on_the_app(analyse_tree):
    analysis = analyse_tree({
        "proj/__init__.py": "",
        "proj/worker.py": """
            from celery import Celery

            app = Celery("proj")
            app.namespace = "WORKER"
            app.conf.update({"WORKER_TASK_ACKS_LATE": True, "CELERY_TASK_TIME_LIMIT": 60})
        """,
    })
    (app,) = analysis.project.apps
    assert app.namespace == "WORKER"
    assert app.setting("task_acks_late").value is True
    assert app.setting("task_time_limit").value is None


# ---------------------------------------------------------------- Flask's config

FLASK_CONFIG = """
    class Config:
        SECRET_KEY = "dev"
        CELERY_BROKER_URL = "redis://redis:6379/0"
        CELERY_RESULT_BACKEND = "redis://redis:6379/1"


    class Production(Config):
        CELERY_TASK_SERIALIZER = "pickle"
        lower_case_is_skipped = "by Flask"
"""


def test_flask_config_handed_whole_to_celery(analyse_tree):
    """Flask's old guide: celery.conf.update(app.config), the config loaded from a class."""
    analysis = analyse_tree({
        "proj/__init__.py": "",
        "proj/config.py": FLASK_CONFIG,
        "proj/app.py": """
            from celery import Celery
            from flask import Flask

            app = Flask(__name__)
            app.config.from_object("proj.config.Production")
            app.config["CELERY_ACCEPT_CONTENT"] = ["pickle", "json"]

            celery = Celery(app.import_name, broker=app.config["CELERY_BROKER_URL"])
            celery.conf.update(app.config)
        """,
    })
    (app,) = analysis.project.apps
    assert app.setting("task_serializer").value == "pickle"
    assert where(app.setting("task_serializer")) == ("proj/config.py", 8)
    assert app.setting("accept_content").value == ["pickle", "json"]
    assert app.setting("result_backend").value == "redis://redis:6379/1"
    assert app.setting("broker_url").value == "redis://redis:6379/0"
    found = codes(analysis)
    assert ("QL203", "proj/config.py", 8) in found
    assert ("QL203", "proj/app.py", 6) in found
    # no namespace: Celery 3 names, each renamed by Celery and deprecated
    assert ("QL002", "proj/config.py", 4) in found


def test_flask_config_from_a_python_file_in_a_factory(analyse_tree):
    """from_pyfile() reads a Python file of any extension beside the module that made the app;
    a make_celery(app) factory filters and renames its keys."""
    analysis = analyse_tree({
        "web/__init__.py": "",
        "web/settings.cfg": 'DEBUG = False\nCELERY_TASK_SERIALIZER = "pickle"\nCELERY_TASK_ACKS_LATE = True\n',
        "web/app.py": """
            from celery import Celery
            from flask import Flask


            def make_celery(flask_app):
                celery = Celery(flask_app.import_name)
                celery.conf.update({k.removeprefix("CELERY_").lower(): v for k, v in flask_app.config.items()
                                    if k.startswith("CELERY_")})
                return celery


            app = Flask(__name__)
            app.config.from_mapping(SECRET_KEY="dev", CELERY_BROKER_URL="redis://redis:6379/0", lower="skipped")
            app.config.from_pyfile("settings.cfg")
            celery = make_celery(app)
        """,
    })
    (app,) = analysis.project.apps
    assert app.setting("task_serializer").value == "pickle"
    assert where(app.setting("task_serializer")) == ("web/settings.cfg", 2)
    assert app.setting("task_acks_late").value is True
    assert app.setting("broker_url").value == "redis://redis:6379/0"
    assert ("QL203", "web/settings.cfg", 2) in codes(analysis)


def test_flask_config_from_a_file_qlint_cannot_read(analyse_tree):
    """from_envvar() of a variable nothing sets, or a file outside the project: any key may be
    there, so nothing is claimed about the settings Celery receives."""
    analysis = analyse_tree({
        "proj/__init__.py": "",
        "proj/config.py": FLASK_CONFIG,
        "proj/app.py": """
            from celery import Celery
            from flask import Flask

            app = Flask(__name__)
            app.config.from_object("proj.config.Config")
            app.config.from_envvar("PROJ_SETTINGS")
            app.config.from_pyfile("/etc/proj/settings.py", silent=True)

            celery = Celery(app.import_name)
            celery.conf.update(app.config)
        """,
    })
    (app,) = analysis.project.apps
    assert app.setting("task_serializer").status == "unknown"
    assert app.setting("broker_url").status == "unknown"
    assert not [c for c in codes(analysis) if c[0] in ("QL203", "QL002")]


def test_flask_config_written_in_a_branch(analyse_tree):
    analysis = analyse_tree({
        "proj/__init__.py": "",
        "proj/app.py": """
            import os
            from celery import Celery
            from flask import Flask

            app = Flask(__name__)
            app.config.update(CELERY_TASK_SERIALIZER="json")
            if os.environ.get("LEGACY_WORKERS"):
                app.config["CELERY_TASK_SERIALIZER"] = "pickle"
            app.config.setdefault("CELERY_TASK_SERIALIZER", "yaml")

            celery = Celery(app.import_name)
            celery.conf.update(app.config)
        """,
    })
    (app,) = analysis.project.apps
    value = app.setting("task_serializer")
    assert value.status == "several"
    assert sorted(alt.value.value for alt in value.alternatives) == ["json", "pickle"]


def test_a_flask_subclass_handed_to_an_init_function(analyse_tree):
    """The extension pattern: init_celery(app) copies the config of the project's Flask
    subclass into a Celery app made at module level."""
    analysis = analyse_tree({
        "proj/__init__.py": "",
        "proj/config.py": FLASK_CONFIG,
        "proj/tasks.py": """
            from celery import Celery

            celery = Celery("proj")


            def init_celery(app):
                celery.conf.update(**dict((k.replace("CELERY_", "").lower(), v)
                                          for k, v in app.config.items() if k.startswith("CELERY_")))
        """,
        "proj/app.py": """
            from flask import Flask

            from proj.tasks import init_celery


            class ProjApp(Flask):
                pass


            app = ProjApp(__name__)
            app.config.from_object("proj.config.Production")
            init_celery(app)
        """,
    })
    (app,) = analysis.project.apps
    assert app.setting("task_serializer").value == "pickle"
    assert app.setting("result_backend").value == "redis://redis:6379/1"
    found = codes(analysis)
    assert ("QL203", "proj/config.py", 8) in found
    assert not [c for c in found if c[0] == "QL002"]  # the keys arrive under their new names


FACTORY = """
    import os

    from celery import Celery
    from flask import Flask


    def create_app(config=None):
        app = Flask(__name__)
        if not config:
            default_path = "/etc/web/web.conf"
            legacy_path = "/etc/web.conf"
            if os.path.isfile(default_path):
                config = default_path
            else:
                config = legacy_path
        if isinstance(config, str):
            os.environ["WEB_SETTINGS"] = config
            app.config.from_envvar("WEB_SETTINGS")
        else:
            app.config.from_object(config)
        app.config.from_prefixed_env()
        return app


    def create_celery_app():
        app = create_app()
        celery = Celery(app.import_name, broker=app.config["CELERY_BROKER_URL"])
        celery.conf.update(app.config)
        return celery


    celery = create_celery_app()
"""
WEB_CONF = ('SECRET_KEY = "x"\nCELERY_BROKER_URL = "redis://redis:6379/0"\n'
            'CELERY_RESULT_BACKEND = "redis://redis:6379/0"\nCELERY_TASK_SERIALIZER = "pickle"\n')
IMAGE = ("FROM python:3.12\nADD . /srv/web\nWORKDIR /srv/web/data\nRUN mkdir -p /etc/web && cp web.conf /etc/web/\n"
         'CMD ["celery", "-A", "web.app:celery", "worker"]\n')


def test_an_application_factory_loads_the_file_a_dockerfile_copies_where_the_app_reads_it(analyse_tree):
    """create_app() is run where create_celery_app() calls it: the file it loads by an absolute
    path (through an environment variable the same function sets, after os.path.isfile()) is the
    one the image copies there, and from_prefixed_env() adds what the deployment sets."""
    analysis = analyse_tree({"web/__init__.py": "", "web/app.py": FACTORY, "data/web.conf": WEB_CONF,
                             "docker/Dockerfile": IMAGE,
                             "docker-compose.yml": "services:\n  worker:\n    build: {context: ., dockerfile: docker/Dockerfile}\n"
                                                   "    environment:\n      FLASK_CELERY_TASK_ACKS_LATE: 'true'\n"})
    (app,) = analysis.project.apps
    assert app.setting("task_serializer").value == "pickle"
    assert where(app.setting("result_backend")) == ("data/web.conf", 3)
    assert app.setting("broker_url").value == "redis://redis:6379/0"
    assert app.setting("task_acks_late").status == "unknown" or app.setting("task_acks_late").value is not True
    found = codes(analysis)
    assert ("QL002", "data/web.conf", 3) in found  # CELERY_RESULT_BACKEND, read without a namespace
    # CELERY_BROKER_URL is no setting without a namespace, but the factory reads it itself; the
    # variable's CELERY_TASK_ACKS_LATE is read by nobody
    unread = [f.message.split(" ", 1)[0] for f in run_rules(analysis, all_rules()) if f.code == "QL001"]
    assert unread == ["CELERY_TASK_ACKS_LATE"]
    assert any("from_prefixed_env()" in note and "FLASK_CELERY_TASK_ACKS_LATE" in note for note in analysis.project.notes)


def test_a_file_no_dockerfile_puts_where_the_factory_reads_it_stays_unread(analyse_tree):
    analysis = analyse_tree({"web/__init__.py": "", "web/app.py": FACTORY, "data/web.conf": WEB_CONF})
    (app,) = analysis.project.apps
    assert app.setting("task_serializer").status == "unknown"
    assert not [c for c in codes(analysis) if c[0] in ("QL002", "QL203")]


def test_from_prefixed_env_sets_what_the_deployment_sets_and_takes_the_rest_as_unset(analyse_tree):
    analysis = analyse_tree({
        "proj/__init__.py": "",
        "proj/app.py": """
            from celery import Celery
            from flask import Flask

            flask_app = Flask(__name__)
            flask_app.config.from_mapping(TASK_ACKS_LATE=False, WORKER_PREFETCH_MULTIPLIER=4)
            flask_app.config.from_prefixed_env("WEB")

            celery = Celery("proj")
            celery.conf.update({k.lower(): v for k, v in flask_app.config.items()})
        """,
        "docker-compose.yml": "services:\n  worker:\n    image: web\n    command: celery -A proj.app:celery worker\n"
                              "    environment:\n      WEB_TASK_ACKS_LATE: 'true'\n      WEB_BROKER_URL: redis://r:6379/0\n",
    })
    (app,) = analysis.project.apps
    assert app.setting("task_acks_late").value is True  # json-decoded, as Flask does
    assert app.setting("broker_url").value == "redis://r:6379/0"
    assert app.setting("worker_prefetch_multiplier").value == 4
    assert any("WEB_BROKER_URL, WEB_TASK_ACKS_LATE" in note and "taken as unset" in note for note in analysis.project.notes)


def test_a_factory_in_a_module_without_celery_markers_and_an_instance_file_it_may_load(analyse_tree):
    """udata's shape: web/app.py names no Celery (its function bodies are left out when read),
    create_app() loads the defaults, then an instance file outside the repository if it exists,
    and hands the app to the extensions' init_app(); tasks.init_app() copies the CELERY_ keys.
    The instance file may be absent, so the defaults are what the app runs with, with a note."""
    analysis = analyse_tree({
        "web/__init__.py": "",
        "web/settings.py": """
            class Defaults:
                DEBUG = False
                CELERY_BROKER_URL = "redis://localhost:6379"
                CELERY_TASK_SERIALIZER = "pickle"
                CELERY_ACCEPT_CONTENT = ["pickle", "json"]
        """,
        "web/app.py": """
            import os
            from os.path import exists, join

            from flask import Flask


            class WebApp(Flask):
                pass


            def create_app(config="web.settings.Defaults"):
                app = WebApp("web")
                app.config.from_object(config)
                settings = os.environ.get("WEB_SETTINGS", join(os.getcwd(), "web.cfg"))
                if exists(settings):
                    app.settings_file = settings  # kept for diagnostics
                    app.config.from_pyfile(settings)

                # A factory this long is no settings helper: the first reading of a module
                # without Celery markers leaves its body out.
                app.config["JSON_SORT_KEYS"] = False
                app.config.setdefault("SESSION_COOKIE_SECURE", True)
                app.config.setdefault("PREFERRED_URL_SCHEME", "https")
                app.debug = app.config["DEBUG"] and not app.config.get("TESTING")
                app.url_map.strict_slashes = False
                app.jinja_env.trim_blocks = True
                app.jinja_env.lstrip_blocks = True

                register_extensions(app)
                return app


            def register_extensions(app):
                from web import tasks

                tasks.init_app(app)
        """,
        "web/tasks.py": """
            from celery import Celery

            celery = Celery("web")


            def init_app(app):
                celery.conf.update(**dict((k.replace("CELERY_", "").lower(), v)
                                          for k, v in app.config.items() if k.startswith("CELERY_")))


            @celery.task
            def harvest(source_id):
                return source_id
        """,
        "web/worker.py": "from web.app import create_app\n\n_app = create_app()\n\nfrom web.tasks import celery  # noqa\n",
    })
    (app,) = analysis.project.apps
    assert app.setting("task_serializer").value == "pickle"
    assert where(app.setting("accept_content")) == ("web/settings.py", 5)
    assert ("QL203", "web/settings.py", 4) in codes(analysis)
    assert any("from_pyfile() may load a file qlint cannot read" in note and "taken as not set" in note
               for note in analysis.project.notes)
