"""The Dockerfile reader (qlint/sources/deploy/dockerfile.py) on realistic Dockerfiles."""
from __future__ import annotations

from qlint.sources.deploy import read_deploy_file
from qlint.sources.deploy.discover import classify_path


def env_of(facts) -> dict[str, tuple[str, object]]:
    return {v.name: (v.value.status, v.value.value) for v in facts.env}


MULTI_STAGE = """\
# syntax=docker/dockerfile:1
ARG PYTHON_VERSION=3.11
FROM python:${PYTHON_VERSION}-slim AS base
ENV PYTHONUNBUFFERED=1 \\
    # a comment inside a continuation
    DJANGO_SETTINGS_MODULE=shop.settings.production
WORKDIR /srv/app
COPY requirements/ requirements/
RUN pip install -r requirements/prod.txt && \\
    rm -rf /root/.cache
RUN <<EOF
echo "CMD celery -A wrong worker" > /dev/null
EOF
COPY . .
COPY deploy/docker-entrypoint.sh /usr/local/bin/

FROM node:20 AS assets
ENV DJANGO_SETTINGS_MODULE=not.this.one
RUN npm ci

FROM base AS runtime
ARG WORKERS=4
ENV CELERY_CONCURRENCY=${WORKERS} OLD_STYLE_NAME=ignored
ENV LEGACY_FORM a value with spaces
ENTRYPOINT ["docker-entrypoint.sh"]
CMD celery -A shop worker -c ${CELERY_CONCURRENCY} --max-tasks-per-child=100 -l info
"""


def test_the_last_stage_with_what_it_inherits():
    facts = read_deploy_file("Dockerfile", MULTI_STAGE)
    assert facts.kind == "dockerfile" and facts.error is None
    env = env_of(facts)
    assert env["DJANGO_SETTINGS_MODULE"] == ("known", "shop.settings.production")  # from base, not from assets
    assert env["CELERY_CONCURRENCY"] == ("env-default", "4")  # an ARG's default: a build may pass another
    assert env["LEGACY_FORM"] == ("known", "a value with spaces")
    settings_var = next(v for v in facts.env if v.name == "DJANGO_SETTINGS_MODULE")
    assert (settings_var.span.line, settings_var.value.origin.line) == (6, 6)
    [process] = facts.processes
    command = process.command
    assert (command.kind, command.app) == ("worker", "shop")
    assert command.option("concurrency").value.value == 4
    assert process.span.line == 26 and process.env["DJANGO_SETTINGS_MODULE"].value.value == "shop.settings.production"
    # the entrypoint on the PATH is the script copied there from the build context
    assert facts.entrypoint == "deploy/docker-entrypoint.sh"
    assert ("deploy/docker-entrypoint.sh", "/usr/local/bin/docker-entrypoint.sh") in facts.copies


def test_exec_form_through_sh_c_and_an_entrypoint_that_resets_cmd():
    text = ('FROM python:3.12\nCMD ["celery", "-A", "x", "beat"]\n'
            'ENTRYPOINT ["sh", "-c", "exec celery -A proj worker --prefetch-multiplier=1 -Q long"]\n')
    facts = read_deploy_file("docker/worker.Dockerfile", text)
    [process] = facts.processes
    assert process.command.kind == "worker" and process.command.app == "proj"
    assert process.command.option("prefetch_multiplier").value.value == 1
    assert process.command.span.line == 3


def test_a_folder_copied_whole_and_a_relative_entrypoint():
    text = "FROM python:3.12\nWORKDIR /app\nCOPY . /app\nENTRYPOINT [\"./scripts/start-worker.sh\"]\n"
    assert read_deploy_file("Dockerfile", text).entrypoint == "scripts/start-worker.sh"


def test_names_that_are_dockerfiles_are_read_without_celery_in_them():
    for name in ("Dockerfile", "Dockerfile.prod", "worker.Dockerfile", "Containerfile", "docker/Dockerfile"):
        assert classify_path(name, b"FROM python\nENV DJANGO_SETTINGS_MODULE=a.b\n") == "dockerfile", name
    assert classify_path("docs/dockerfile-notes.md", b"FROM python\n") is None


def test_bad_dockerfiles_give_no_traceback():
    for text in ("", "FROM", "ENV", "CMD [\"unterminated", "ENV =x A", "FROM a\nCMD \\\n", "ARG\nFROM $X\nCOPY\n",
                 "FROM a\nENTRYPOINT []\nCMD []\n", "FROM a\nCOPY --from=build /x /y\nENTRYPOINT /y\n",
                 "FROM a\nRUN <<X\nno end\n", "\\\n\\\n"):
        facts = read_deploy_file("Dockerfile", text)
        assert facts.kind == "dockerfile"


def test_an_entrypoint_drops_the_base_stages_cmd_but_not_its_own():
    base = "FROM python:3.12 AS base\nCMD celery -A proj beat\n"
    inherited = read_deploy_file("Dockerfile", base + 'FROM base\nENTRYPOINT ["tini", "--"]\n')
    assert inherited.processes == []
    own = read_deploy_file("Dockerfile", base + 'FROM base\nCMD celery -A proj worker\nENTRYPOINT ["tini", "--"]\n')
    assert [p.command.kind for p in own.processes] == ["worker"]


def test_files_cp_copies_inside_the_image_are_known_by_the_file_they_came_from():
    text = (
        "FROM python:3.12\n"
        "ADD . /tmp/app\n"
        "COPY deploy/prod.cfg /opt/\n"
        "WORKDIR /tmp/app/data\n"
        "RUN mkdir -p /etc/app && \\\n"
        "    cp -v app.conf tags.yaml \\\n"
        "       /etc/app/ && chmod -R go+r /etc/app\n"
        "RUN cp /opt/prod.cfg /etc/app/prod.cfg; cp /usr/share/zoneinfo/UTC /etc/localtime\n"
    )
    copies = read_deploy_file("docker/Dockerfile", text).copies
    assert ("data/app.conf", "/etc/app/app.conf") in copies
    assert ("data/tags.yaml", "/etc/app/tags.yaml") in copies
    assert ("deploy/prod.cfg", "/etc/app/prod.cfg") in copies
    # a file of the base image is no file of the repository
    assert not [dest for _, dest in copies if dest == "/etc/localtime"]
