"""Templates, alias bombs, invalid YAML/TOML, binary and undecodable files: a note for a
template, an error (reported as QL000) for a file that cannot be read, never an exception."""
from __future__ import annotations

import pytest

from qlint.sources.deploy import read_deploy_bytes, read_deploy_file
from qlint.sources.deploy.yaml_nodes import MAX_CHARS


def _bomb(top: str) -> str:
    lines = ['CELERY_X: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    names = "abcdefghij"
    for prev, name in zip(names, names[1:]):
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 9) + "]")
    lines.append(f"{top}: *j")
    return "\n".join(lines) + "\n"


def test_yaml_alias_bomb_in_settings_is_refused():
    facts = read_deploy_file("celery.yaml", _bomb("CELERY_BOMB"))
    assert facts.settings == []
    assert "alias bomb" in facts.error


def test_merge_key_bomb_in_compose_is_refused():
    lines = ["x0: &x0 {command: celery -A p worker}"]
    for k in range(1, 12):
        lines.append(f"x{k}: &x{k}\n  <<: [" + ", ".join([f"*x{k - 1}"] * 9) + "]")
    lines.append("services:\n  worker:\n    <<: *x11\n    image: app")
    facts = read_deploy_file("docker-compose.yml", "\n".join(lines) + "\n")
    assert facts.processes == []
    assert "alias bomb" in facts.error


def test_jinja_template_is_skipped_with_a_note():
    text = (
        "services:\n"
        "  worker:\n"
        "    command: celery -A {{ app }} worker -c {{ concurrency }}\n"
        "{% if beat %}\n"
        "  beat:\n"
        "    command: celery -A {{ app }} beat\n"
        "{% endif %}\n"
    )
    facts = read_deploy_file("docker-compose.yml", text)
    assert facts.processes == [] and facts.template and facts.error is None
    assert facts.notes == ["docker-compose.yml: a template (Jinja or Go template markers), not YAML; skipped"]


def test_go_template_is_skipped_with_a_note():
    text = (
        "apiVersion: apps/v1\nkind: Deployment\nspec:\n  replicas: {{ .Values.replicas }}\n"
        "  template:\n    spec:\n      containers:\n        - command: [celery, worker]\n"
        "{{- with .Values.env }}\n          env: {{ toYaml . | nindent 12 }}\n{{- end }}\n"
    )
    facts = read_deploy_file("templates/worker.yaml", text)
    assert facts.kind == "kubernetes" and facts.processes == []
    assert "template" in facts.notes[0]


def test_invalid_yaml_gets_a_located_error():
    facts = read_deploy_file("compose.yaml", "services:\n  worker:\n    command: [celery, worker\n")
    assert facts.processes == [] and not facts.template
    assert facts.error.startswith("invalid YAML at line 4, column 1")
    assert (facts.error_span.path, facts.error_span.line, facts.error_span.column) == ("compose.yaml", 4, 1)


def test_python_tags_are_never_constructed():
    text = "services:\n  worker:\n    command: !!python/object/apply:os.system ['celery -A p worker']\n"
    facts = read_deploy_file("compose.yaml", text)
    assert facts.notes == []  # the tag is just a tag: the node is a sequence, read as one


def test_invalid_toml():
    facts = read_deploy_file("settings.toml", "[default]\nCELERY_X = \n")
    assert facts.settings == [] and "invalid TOML" in facts.error and facts.error_span.line == 2


def test_binary_and_undecodable_bytes():
    assert read_deploy_bytes("docker-compose.yml", b"\x00\x01celery").error == "a binary file, not text"
    assert read_deploy_bytes("Procfile", b"\x89PNG\r\n\x1a\n\x00\x00").error == "a binary file, not text"
    assert read_deploy_bytes("k8s/worker.yaml", b"\x00\x01celery") is None  # any YAML name: not ours to judge
    facts = read_deploy_bytes("Procfile", b"worker: celery -A p worker -c \xff\xfe\n")
    assert facts.kind == "procfile" and "not UTF-8" in facts.error
    big = read_deploy_bytes("Procfile", b"worker: celery -A p worker\n" + b"#" * 100, max_bytes=50)
    assert big.error.startswith("too large for a deployment file")


def test_huge_yaml_is_skipped():
    text = "# celery\n" + "a: 1\n" * (MAX_CHARS // 5 + 1)
    facts = read_deploy_file("docker-compose.yml", text)
    assert "too large" in facts.error


@pytest.mark.parametrize("name,text", [
    ("docker-compose.yml", "services: [celery"),
    ("docker-compose.yml", "services:\n  w:\n    command: 3\n    environment: 7\n    deploy: x  # celery\n"),
    ("compose.yaml", "- celery\n- worker\n"),
    ("k8s.yaml", "apiVersion: v1\nkind: Pod\nspec: celery\n"),
    ("Procfile", "worker: celery -A 'unterminated worker\n"),
    ("celery.conf", "[program:w]\ncommand=celery -A p worker -c\n"),
    ("celery.service", "[Service]\nExecStart=\n# celery\n"),
    ("entrypoint.sh", "#!/bin/sh\nexec celery -A p worker $(\n"),
    (".env", "=\nexport\n'KEY'=1\n"),
])
def test_odd_input_never_raises(name, text):
    facts = read_deploy_file(name, text)
    assert facts is not None
