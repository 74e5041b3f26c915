"""deploy_files.is_deployment_file: the cheap first test agrees with the full read."""
from __future__ import annotations

from pathlib import Path

from qlint.scan.deploy_files import candidate, is_deployment_file, read_deploy_facts
from qlint.scan.discovery import walk_files

REPO = Path(__file__).resolve().parent.parent


def test_it_agrees_with_reading_every_candidate_of_the_examples_and_test_data():
    candidates = [(f"{folder}/{rel}", Path(full).read_bytes()) for folder in ("examples", "tests")
                  for rel, full in walk_files(REPO / folder, ()) if not rel.endswith(".py") and candidate(rel)]
    assert len(candidates) > 20
    read = {rel for rel, data in candidates if read_deploy_facts(rel, data) is not None}
    assert read and read != {rel for rel, _ in candidates}  # some candidates are no deployment file
    assert {rel for rel, data in candidates if is_deployment_file(rel, data)} == read


def test_a_yaml_fixture_is_dropped_and_a_compose_file_is_not():
    fixture = b"interactions:\n- request:\n    body: null\n    method: GET\n    uri: https://jira.example/rest\n"
    compose = b"services:\n  worker:\n    command: celery -A proj worker\n"
    assert not is_deployment_file("unittests/vcr/jira/test_push.yaml", fixture)
    assert read_deploy_facts("unittests/vcr/jira/test_push.yaml", fixture) is None
    assert is_deployment_file("docker-compose.yml", compose)
