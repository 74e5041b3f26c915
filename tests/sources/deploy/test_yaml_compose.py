"""Nodes composed from libyaml's events (yaml_compose.py) are ruamel's own, node for node:
the same tags, values, shared aliases and positions; and whatever the fast path does not
take is left to ruamel's composer."""
from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError
from ruamel.yaml.nodes import Node, ScalarNode

from qlint.sources.deploy import yaml_compose
from qlint.sources.deploy.yaml_compose import compose
from qlint.sources.deploy.yaml_nodes import load

REPO = Path(__file__).resolve().parents[3]

pytestmark = pytest.mark.skipif(yaml_compose.CParser is None, reason="ruamel.yaml's C extension is not installed")

SNIPPETS = {
    "compose file": (
        "x-common: &common\n  image: app:latest\n  environment:\n    BROKER_URL: redis://redis:6379/0\n"
        "services:\n  worker:\n    <<: *common\n    command: celery -A proj worker --prefetch-multiplier=4\n"
        "  beat:\n    <<: [*common]\n    command: [\"celery\", \"-A\", \"proj\", \"beat\"]\n"
    ),
    "scalars": (
        "plain: text\nint: 42\nhex: 0x1F\nfloat: 1.5e3\ninf: .inf\nbool: true\nyes: yes\nnull: ~\nempty:\n"
        "quoted: '42'\ndouble: \"a\\tb\"\nfolded: >\n  one\n  two\nliteral: |\n  line 1\n  line 2\n"
        "explicit: !!str 7\nlocal: !custom value\ndate: 2024-01-01\n"
    ),
    "flow and complex keys": "a: {b: [1, 2, {c: d}], e: []}\n? [k1, k2]\n: value\n? simple\n",
    "documents": "---\na: 1\n---\n---\nb: 2\n...\n--- scalar\n",
    "anchors defined again": "a: &x [1]\nb: *x\nc: &x [2]\nd: *x\n",
    "unicode": "name: 'héllo wörld'\ncommand: celery -A prøj worker\nlist: [é, ü]\n",
    "only comments": "# nothing here\n",
}


def _signature(node: Node, seen: dict[int, int]) -> tuple:
    # An alias is the node it names: the same object, seen once.
    if id(node) in seen:
        return ("alias", seen[id(node)])
    seen[id(node)] = len(seen)
    if isinstance(node, ScalarNode):
        if node.tag == "tag:yaml.org,2002:null" and node.value == "":
            # An empty value: ruamel places it at the next token, libyaml where it is missing.
            return ("empty",)
        value: object = node.value.replace("\a", "")  # ruamel's mark for folded line breaks
        end = (node.end_mark.index, node.end_mark.line, node.end_mark.column)
    else:
        value = [tuple(_signature(n, seen) for n in item) if isinstance(item, tuple) else _signature(item, seen)
                 for item in node.value]
        end = ()  # where a block collection ends is never read, and the two place it differently
    start = (node.start_mark.index, node.start_mark.line, node.start_mark.column)
    return (type(node).__name__, node.tag, value, start, end, node.anchor)


def _ruamel(text: str) -> list[tuple]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        documents = [d for d in YAML(typ="rt").compose_all(text) if d is not None]
    return [_signature(d, {}) for d in documents]


@pytest.mark.parametrize("name", sorted(SNIPPETS))
def test_snippets_compose_as_ruamel_composes_them(name: str) -> None:
    documents = compose(SNIPPETS[name])
    assert documents is not None
    assert [_signature(d, {}) for d in documents] == _ruamel(SNIPPETS[name])


def test_the_repository_yaml_files_compose_as_ruamel_composes_them() -> None:
    files = [p for p in REPO.rglob("*.y*ml") if ".git" not in p.parts and ".qlint_cache" not in p.parts]
    assert len(files) > 20
    for path in files:
        text = path.read_text()
        documents = compose(text)
        if documents is None:  # only what is not YAML (a template) is left to ruamel here
            with pytest.raises(YAMLError):
                _ruamel(text)
        else:
            assert [_signature(d, {}) for d in documents] == _ruamel(text), path


@pytest.mark.parametrize("text", [
    "[" * 100_000 + "]" * 100_000,  # libyaml's own composer would crash the process on this
    "- " * 100 + "x\n",
    "%YAML 1.1\n---\non: yes\n",  # YAML 1.1 tags: ruamel's composer resolves them
    "a: *nowhere\n",
    "a: [1, 2\nb: 3\n",
])
def test_what_the_fast_path_does_not_take_goes_to_ruamel(text: str) -> None:
    assert compose(text) is None


def test_load_words_errors_as_before() -> None:
    from qlint.sources.deploy.yaml_nodes import Unreadable

    with pytest.raises(Unreadable, match=r"invalid YAML at line 2"):
        load("compose.yml", "a: [1, 2\nb: 3\n", [])
    deep = load("deep.yml", "- " * 100 + "x\n", [])
    assert deep is not None and len(deep.documents) == 1
