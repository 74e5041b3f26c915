from __future__ import annotations

import re
from pathlib import Path

from qlint.model import Finding, Fix, Related, Span
from qlint.report import render
from tests.report.conftest import RULES, LateAck, Payload, Prefetch, late_ack, payload, prefetch


def annotations(findings: list[Finding]) -> list[str]:
    return render(findings, "github", root=Path("."), rules=RULES, color=False).splitlines()


def unescape(text: str) -> str:
    return re.sub(r"%(25|0D|0A|3A|2C)", lambda m: {"25": "%", "0D": "\r", "0A": "\n", "3A": ":", "2C": ","}[m.group(1)], text)


def parse(line: str) -> tuple[str, dict[str, str], str]:
    """Split an annotation as the runner does: command, comma-separated properties, data."""
    match = re.fullmatch(r"::(\w+) ([^:]*)::(.*)", line)
    assert match, line
    props = dict(p.split("=", 1) for p in match.group(2).split(","))
    return match.group(1), {k: unescape(v) for k, v in props.items()}, unescape(match.group(3))


def test_one_annotation_per_finding_sorted(findings: list[Finding]) -> None:
    lines = annotations(findings)
    assert lines[0] == (
        "::notice file=deploy/Procfile,line=2,col=9,endLine=2,endColumn=35,title=QL401 prefetch-long-tasks"
        "::this worker reserves 32 messages behind long tasks%0Anote: deploy/worker.yaml:3:14: another worker with the default multiplier"
    )
    assert [parse(line)[0] for line in lines] == ["notice", "error", "warning"]
    assert len(lines) == 3


def test_related_locations_and_fix_go_into_the_message() -> None:
    command, props, message = parse(annotations([late_ack()])[0])
    assert command == "error"
    assert props == {
        "file": "settings/production.py", "line": "3", "col": "1", "endLine": "3", "endColumn": "38",
        "title": "QL101 late-ack-visibility-timeout",
    }
    assert message.splitlines() == [
        "late-acked tasks may run 24 h, past Redis' 1 h visibility timeout",
        "note: settings/base.py:1:1: late acknowledgement is turned on here",
        "note: settings/base.py:2:1: the broker is Redis, whose default visibility timeout is 1 h",
        "fix: set broker_transport_options['visibility_timeout'] above the time limit",
    ]


def test_escaping_of_data_and_properties() -> None:
    finding = Payload().finding(
        "100% of the file:\r\nsent, twice",
        Span("odd dir/a,b:c%.py", 7, 3, 7, 9),
        related=(Related(Span("x.py", 1), "50%"),),
        fix=Fix("use 10%, not 100%"),
    )
    [line] = annotations([finding])
    assert "\n" not in line and "\r" not in line
    assert line == (
        "::warning file=odd dir/a%2Cb%3Ac%25.py,line=7,col=3,endLine=7,endColumn=9,title=QL201 large-payload-argument"
        "::100%25 of the file:%0D%0Asent, twice%0Anote: x.py:1:1: 50%25%0Afix: use 10%25, not 100%25"
    )
    _, props, message = parse(line)
    assert props["file"] == "odd dir/a,b:c%.py"
    assert message == "100% of the file:\r\nsent, twice\nnote: x.py:1:1: 50%\nfix: use 10%, not 100%"


def test_unicode_passes_through_and_a_point_has_no_end() -> None:
    [line] = annotations([Prefetch().finding("délai ≥ 1 h", Span("réglages/prod.py", 4, 2))])
    assert line == "::notice file=réglages/prod.py,line=4,col=2,title=QL401 prefetch-long-tasks::délai ≥ 1 h"


def test_multiline_span_and_no_findings() -> None:
    _, props, _ = parse(annotations([payload()])[0])
    assert (props["line"], props["endLine"], props["col"], props["endColumn"]) == ("2", "4", "5", "6")
    assert render([], "github", root=Path("."), rules=RULES, color=False) == ""


def test_severity_levels() -> None:
    for severity, level in (("error", "error"), ("warning", "warning"), ("info", "notice")):
        finding = LateAck().finding("m", Span("a.py", 1), severity=severity)
        assert annotations([finding])[0].startswith(f"::{level} ")
