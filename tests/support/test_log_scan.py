"""The log scan that runs after every test session (tests/conftest.py) can find what it looks for."""

import tempfile
from pathlib import Path

from tests.support.log_scan import findings, log_files


def test_the_scan_finds_personal_data_in_clear_and_passes_redacted_lines():
    # Outside the run's temporary directory, which the session's own scan reads.
    with tempfile.TemporaryDirectory() as folder:
        check(Path(folder))


def check(tmp_path: Path) -> None:
    (tmp_path / "logs").mkdir()
    clean = tmp_path / "logs" / "actions.log"
    clean.write_text('{"msg": "status lookup for [ID] born [DATE]"}\n', encoding="utf-8")
    leaky = tmp_path / "logs" / "gateway.log"
    leaky.write_text(
        '{"msg": "ok"}\n{"msg": "user wrote trp 2026 000101"}\n{"msg": "FIN 5ZK2L9B"}\n'
        '{"msg": "born 12.03.1990"}\n{"msg": "passport AA1234567"}\n',
        encoding="utf-8",
    )
    assert log_files(tmp_path) == [clean, leaky]
    found = findings(log_files(tmp_path))
    assert [line.split(":")[1] for line in found] == ["2", "3", "4", "5"]
