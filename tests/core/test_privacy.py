import logging

import pytest

from core.logs import JsonFormatter
from core.privacy import RedactingFilter, redact


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("My FIN is 5ZK2L9B", "5ZK2L9B"),
        ("fin: 5zk2l9b", "5zk2l9b"),
        ("passport C01234567 please", "C01234567"),
        ("passport AA1234567", "AA1234567"),
        ("application MIG-2026-000123 status", "MIG-2026-000123"),
        ("born 12.03.1990", "12.03.1990"),
        ("born 1990-03-12", "1990-03-12"),
        ("родился 12 марта 1990 года", "12 марта 1990"),
        ("doğum tarixi 12 mart 1990", "12 mart 1990"),
        ("call me at +994 50 123 45 67", "123 45 67"),
        ("mail ivan.petrov@example.com", "ivan.petrov@example.com"),
        ("меня зовут Иван Петров", "Иван"),
        ("my name is John Smith", "John"),
        ("mənim adım Əli Məmmədov", "Əli"),
        ("/bot123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/getMe", "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"),
        ("status of TRP-2026-000102 asked", "TRP-2026-000102"),
        ("ərizə trp 2026 000102", "2026 000102"),
        ("passport aa1234567", "aa1234567"),
        ("FIN 7QX4M2C, born 02.11.1985", "7QX4M2C"),
        ("FIN 7QX4M2C, born 02.11.1985", "02.11.1985"),
        ("born12.03.1990 python3.11", "12.03.1990"),
        ("python3.11 FIN 5ZK2L9B", "5ZK2L9B"),  # a version beside it opens no gap
        ("model-d489fbca5ec13f92c9d0.tar.gz passport C01234567", "C01234567"),
        ("phone 0501234567 on sha256", "0501234567"),
        ("\ue0000\ue001 marks of our own, FIN 5ZK2L9B", "5ZK2L9B"),
    ],
)
def test_personal_data_is_redacted(text, secret):
    assert secret not in redact(text)


def test_ordinary_text_is_kept():
    text = "How do I extend my temporary residence permit in 30 days?"
    assert redact(text) == text


@pytest.mark.parametrize(
    "text",
    [
        "engine runs on python3.11, the engine's venv on python3.10.12",
        "serving models/model-d489fbca5ec13f92c9d0.tar.gz (fingerprint d489fbca5ec13f92c9d0)",
        "sha256 of the base64 body, utf-8, x86_64 wheel, ipv4 and http2",
        "py3.10 and python3 both found",
    ],
)
def test_technical_tokens_are_not_mangled(text):
    assert redact(text) == text


def test_log_records_are_redacted_including_arguments_and_exceptions():
    record = logging.LogRecord(
        "x", logging.INFO, __file__, 1, "lookup for %s born %s", ("C01234567", "12.03.1990"), None
    )
    try:
        raise ValueError("bad FIN 5ZK2L9B")
    except ValueError:
        import sys

        record.exc_info = sys.exc_info()
    assert RedactingFilter().filter(record)
    line = JsonFormatter("test").format(record)
    assert "C01234567" not in line and "12.03.1990" not in line and "5ZK2L9B" not in line
    assert "ValueError" in line


def test_every_record_of_a_process_can_be_redacted_at_creation():
    """The engine's way: Rasa installs its own handlers, so the records themselves are redacted."""
    import logging

    from core.privacy import redact_every_record

    original = logging.getLogRecordFactory()
    try:
        redact_every_record()
        redact_every_record()  # once is enough; a second call does not wrap twice
        record = logging.getLogger("rasa.core.channels.rest").makeRecord(
            "rasa", logging.ERROR, __file__, 1, "message %s failed", ("my FIN is 5ZK2L9B",), None
        )
        assert record.getMessage() == "message my FIN is [ID] failed"
    finally:
        logging.setLogRecordFactory(original)
