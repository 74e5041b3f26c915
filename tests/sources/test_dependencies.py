"""Reading one dependency file: which files, requirement strings, spans, bad input."""
from __future__ import annotations

import pytest

from qlint.model import Span
from qlint.sources.dependencies import dependency_kind, read_dependency_bytes
from qlint.sources.dependencies.manifests import poetry_constraint
from qlint.sources.dependencies.pip_install import read_dockerfile_installs
from qlint.sources.dependencies.requirements import parse_requirement, read_requirements

SPAN = Span("requirements.txt", 1)


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("requirements.txt", "requirements"), ("requirements-dev.txt", "requirements"),
        ("dev-requirements.in", "requirements"), ("requirements/production.txt", "requirements"),
        ("constraints.txt", "requirements"), ("pyproject.toml", "pyproject"), ("sub/poetry.lock", "poetry-lock"),
        ("uv.lock", "uv-lock"), ("pdm.lock", "pdm-lock"), ("Pipfile", "pipfile"), ("Pipfile.lock", "pipfile-lock"),
        ("setup.cfg", "setup-cfg"), ("setup.py", "setup-py"), ("Dockerfile", "dockerfile"),
        ("docker/Dockerfile.worker", "dockerfile"), ("worker.dockerfile", "dockerfile"),
        ("Containerfile", "dockerfile"), ("README.txt", None), ("docs/conf.py", None),
        ("docker-compose.yml", None), ("notes/requirements.md", None),
    ],
)
def test_files_are_chosen_by_name(path, kind):
    assert dependency_kind(path) == kind


@pytest.mark.parametrize(
    ("text", "package", "specifier", "extras", "marker"),
    [
        ("celery[redis]==5.3.6", "celery", "==5.3.6", ("redis",), None),
        ("Celery ~= 5.4.0", "celery", "~=5.4.0", (), None),
        ('celery>=5.2,<6; python_version < "3.10"', "celery", "<6,>=5.2", (), 'python_version < "3.10"'),
        ("kombu", "kombu", "", (), None),
        ("./wheels/celery-5.3.6-py3-none-any.whl", "celery", "==5.3.6", (), None),
    ],
)
def test_requirement_strings(text, package, specifier, extras, marker):
    found = parse_requirement(text, SPAN)
    assert (found.package, found.specifier, found.extras, found.marker) == (package, specifier, extras, marker)
    assert found.unreadable is None


@pytest.mark.parametrize("text", ["git+https://github.com/celery/celery.git@v5.3.0#egg=celery",
                                  "celery @ https://example.com/celery.tar.gz", "celery==5.x"])
def test_versions_qlint_cannot_read_say_why(text):
    found = parse_requirement(text, SPAN)
    assert found.package == "celery" and found.specifier == "" and found.unreadable


def test_other_packages_are_not_kept():
    assert parse_requirement("django-celery-beat==2.5.0", SPAN) is None
    assert parse_requirement("celery-redbeat>=2", SPAN) is None


def test_a_requirements_file_with_options_continuations_and_comments():
    facts = read_requirements("requirements.txt", (
        "# production\n"
        "-r base.txt\n"
        "--constraint=constraints.txt\n"
        "-i https://pypi.org/simple\n"
        "celery[redis]==5.3.6 \\\n"
        "    --hash=sha256:0b5761a0\n"
        "django>=4  # web\n"
        "  kombu>=5.3 ; python_version >= '3.8'  # broker\n"
    ))
    assert [(i.path, i.constraint) for i in facts.includes] == [("base.txt", False), ("constraints.txt", True)]
    celery, kombu = facts.requirements
    assert celery.specifier == "==5.3.6" and (celery.span.line, celery.span.end_line) == (5, 6)
    assert kombu.marker == 'python_version >= "3.8"' and (kombu.span.line, kombu.span.column) == (8, 3)


def test_a_constraints_file_holds_constraints():
    facts = read_requirements("constraints.txt", "celery<5.5\n")
    assert facts.requirements[0].constraint


@pytest.mark.parametrize(
    ("poetry", "pep440"),
    [("^5.3", "<6,>=5.3"), ("~5.3", "<5.4,>=5.3"), ("5.3.6", "==5.3.6"), (">=5.2 <6", "<6,>=5.2"),
     ("^5.3 || ^4.4", "<6,>=5.3 || <5,>=4.4"), ("*", ""), ("^0.2.3", "<0.3,>=0.2.3"), ("5.3.*", "==5.3.*"),
     ("not a version", None)],
)
def test_poetry_constraints(poetry, pep440):
    assert poetry_constraint(poetry) == pep440


def test_dockerfile_pip_commands():
    facts = read_dockerfile_installs("Dockerfile", (
        "# syntax=docker/dockerfile:1\n"
        "FROM python:3.11-slim AS base\n"
        "ARG CELERY_VERSION=5.4.0\n"
        "ENV PIP_NO_CACHE_DIR=1\n"
        "RUN pip install --upgrade pip && \\\n"
        "    # the app\n"
        "    pip install --no-cache-dir -r requirements/prod.txt -c constraints.txt\n"
        'RUN python -m pip install "celery[redis]==${CELERY_VERSION}" \\\n'
        "      --index-url https://pypi.org/simple\n"
        'RUN ["pip", "install", "kombu==5.3.7"]\n'
        "RUN --mount=type=cache,target=/root/.cache uv pip install --system celery==$UNSET_VERSION\n"
        "RUN apt-get install -y celery-tools\n"
    ))
    assert facts.python == "==3.11.*"
    assert [(i.path, i.constraint, i.install) for i in facts.includes] == [
        ("requirements/prod.txt", False, 2), ("constraints.txt", True, 2)]
    found = [(r.package, r.specifier, r.span.line, r.install, bool(r.unreadable)) for r in facts.requirements]
    assert found == [("celery", "==5.4.0", 8, 3, False), ("kombu", "==5.3.7", 10, 4, False),
                     ("celery", "", 11, 5, True)]


@pytest.mark.parametrize(
    ("path", "data", "error"),
    [
        ("uv.lock", b'[[package]]\nname = "celery"\nversion = "5.5.3"\n\x00\x00', "binary file"),
        ("poetry.lock", b'[[package]]\nname = "celery"\nversion = \n', "the celery entry is not valid TOML"),
        ("Pipfile.lock", b'{"default": {"celery": ', "not valid JSON"),
        ("Pipfile", b"[packages\ncelery = '*'\n", "not valid TOML"),
        ("requirements.txt", b"celery==5\n\xff\n", "not UTF-8 text"),
        ("Dockerfile", b"FROM python\x00\x00", "binary file"),
    ],
)
def test_bad_input_gives_an_error_never_a_traceback(path, data, error):
    facts = read_dependency_bytes(path, data)
    assert error in (facts.error or ""), facts
    assert facts.requirements == ()


def test_a_lock_without_celery_is_not_parsed():
    # not even valid TOML: never looked at, since it cannot name celery or kombu
    assert read_dependency_bytes("uv.lock", b"[[package\nname = 'django'\n").error is None


def test_a_setup_py_that_cannot_be_decoded_is_a_note():
    facts = read_dependency_bytes("setup.py", b"# celery\n\xff\xfe\x00")
    assert facts.error is None and "install_requires is not read" in facts.notes[0]


def test_garbage_of_every_kind_never_raises():
    """Fragments of real syntax shuffled: each file is read and resolved, or reported, never a traceback."""
    import random
    import warnings

    from qlint.resolve.versions import resolve_versions

    fragments = [b"celery", b"kombu", b"==", b">=5.", b"[[package]]\n", b'name = "celery"\n', b"version = ",
                 b'"5.3.6"', b"\n", b"[", b"]", b"{", b"}", b"=", b";", b"python_version", b"<", b"'", b'"',
                 b"\\\n", b"-r ", b"-c ", b"RUN pip install ", b"FROM python:3.", b"||", b"^", b"~", b"*",
                 b"[packages]\n", b"install_requires", b"setup(", b")", b"\x00", b"\xff", b"${X}", b"@ ", b"git+",
                 b"#egg=", b",", b" "]
    names = ["requirements.txt", "pyproject.toml", "poetry.lock", "uv.lock", "pdm.lock", "Pipfile",
             "Pipfile.lock", "setup.cfg", "setup.py", "Dockerfile"]
    rng = random.Random(17)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a reader must not print warnings either
        for _ in range(600):
            path = rng.choice(names)
            data = b"".join(rng.choice(fragments) for _ in range(rng.randint(0, 40)))
            facts = read_dependency_bytes(path, data)
            resolve_versions({path: facts}, {})


def test_a_template_of_a_pyproject_is_skipped_with_a_note():
    """A cookiecutter's `{{cookiecutter.project_slug}}/pyproject.toml` is Jinja until rendered."""
    text = b'[project]\nname = "{{ cookiecutter.project_slug }}"\ndependencies = [\n  "celery==5.5.3",\n' \
           b'  {%- if cookiecutter.use_docker == "y" %}\n  "gunicorn",\n  {%- endif %}\n]\n'
    facts = read_dependency_bytes("{{cookiecutter.project_slug}}/pyproject.toml", text)
    assert facts.error is None and facts.requirements == ()
    assert any("a template (Jinja markers)" in note for note in facts.notes)
