"""Fingerprints of findings at the edges: spans on line 0 or past the end, a whole file, files
without readable text, identical lines, long spans, findings of several rules on one line."""
from __future__ import annotations

from pathlib import Path

from qlint.model import Finding, Span
from qlint.pipeline.fingerprint import MAX_LINES, fingerprints


def finding(span: Span, code: str = "QL001", message: str = "a message") -> Finding:
    return Finding(code, "some-rule", "error", message, span)


def one(tmp_path: Path, span: Span, **kwargs) -> str:
    return fingerprints([finding(span, **kwargs)], tmp_path)[0]


def test_the_counter_tells_identical_lines_apart_in_file_order(tmp_path: Path) -> None:
    (tmp_path / "Procfile").write_text("worker: celery -A p worker\nworker: celery -A p worker\n", encoding="utf-8")
    second, first = finding(Span("Procfile", 2, 9, 2, 27)), finding(Span("Procfile", 1, 9, 1, 27))
    prints = fingerprints([second, first], tmp_path)
    assert prints[1].endswith(":0") and prints[0].endswith(":1")
    assert prints[0].split(":")[0] == prints[1].split(":")[0]


def test_whitespace_does_not_count_and_the_text_does(tmp_path: Path) -> None:
    path = tmp_path / "settings.py"
    path.write_text("X = 1\n", encoding="utf-8")
    before = one(tmp_path, Span("settings.py", 1, 1, 1, 6))
    path.write_text("\n\n  X  =  1   \n", encoding="utf-8")
    assert one(tmp_path, Span("settings.py", 3, 3, 3, 10)) == before
    path.write_text("X = 2\n", encoding="utf-8")
    assert one(tmp_path, Span("settings.py", 1, 1, 1, 6)) != before


def test_the_rule_and_the_span_s_own_text_count(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("app.conf.update(task_ack_late=True, worker_prefetch_multipler=1)\n", encoding="utf-8")
    first, second = Span("a.py", 1, 17, 1, 35), Span("a.py", 1, 37, 1, 65)
    prints = fingerprints([finding(first), finding(second), finding(first, code="QL002")], tmp_path)
    assert len({p.split(":")[0] for p in prints}) == 3
    assert all(p.endswith(":0") for p in prints)


def test_a_span_on_line_0_or_past_the_end_uses_the_message(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("a: 1\n", encoding="utf-8")
    zero = one(tmp_path, Span("a.yaml", 0), message="cannot read 12 bytes")
    assert zero == one(tmp_path, Span("a.yaml", 40), message="cannot read 13 bytes")
    assert zero != one(tmp_path, Span("a.yaml", 0), message="another problem")


def test_a_file_without_text_uses_the_message(tmp_path: Path) -> None:
    (tmp_path / "docker-compose.yml").write_bytes(b"services:\x00\xff")
    binary = one(tmp_path, Span("docker-compose.yml", 1), code="QL000", message="binary file")
    assert binary == one(tmp_path, Span("missing.yml", 1), code="QL000", message="binary file")
    assert binary.endswith(":0") and len(binary.split(":")[0]) == 16


def test_a_whole_file_span_hashes_its_first_lines_only(tmp_path: Path) -> None:
    lines = [f"LINE_{n} = {n}" for n in range(MAX_LINES + 5)]
    path = tmp_path / "settings.py"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    span = Span("settings.py", 1, 1, len(lines), 5)
    before = one(tmp_path, span)
    # An edit below the first MAX_LINES lines leaves it; one within them does not.
    path.write_text("\n".join(lines[:-1] + ["CHANGED = 1"]) + "\n", encoding="utf-8")
    assert one(tmp_path, span) == before
    path.write_text("\n".join(["CHANGED = 1"] + lines[1:]) + "\n", encoding="utf-8")
    assert one(tmp_path, span) != before


def test_a_span_ending_at_the_start_of_a_line_does_not_take_that_line(tmp_path: Path) -> None:
    path = tmp_path / "Dockerfile"
    path.write_text("FROM python\nRUN pip install celery\nCMD celery worker\n", encoding="utf-8")
    span = Span("Dockerfile", 2, 1, 3, 1)
    before = one(tmp_path, span)
    path.write_text("FROM python\nRUN pip install celery\nCMD celery -A p worker\n", encoding="utf-8")
    assert one(tmp_path, span) == before


def test_crlf_and_lf_files_give_the_same_fingerprint(tmp_path: Path) -> None:
    (tmp_path / ".env").write_bytes(b"A=1\r\nCELERY_BROKER_URL=redis://\r\n")
    crlf = one(tmp_path, Span(".env", 2, 1, 2, 28))
    (tmp_path / ".env").write_bytes(b"A=1\nCELERY_BROKER_URL=redis://\n")
    assert one(tmp_path, Span(".env", 2, 1, 2, 28)) == crlf
