import pytest

from core.i18n import normalize_language
from core.language import detect_language


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Salam, necəsiniz?", "az"),
        ("Qeydiyyatdan keçmək üçün nə lazımdır?", "az"),
        ("salam qeydiyyat nece edim", "az"),  # without the special letters
        ("is icazesi nece almaq olar", "az"),
        ("Как получить вид на жительство?", "ru"),
        ("здравствуйте", "ru"),
        ("kak poluchit vid na zhitelstvo", "ru"),  # Russian in Latin letters
        ("privet, mne nuzhno razreshenie na rabotu", "ru"),
        ("How do I register my place of stay?", "en"),
        ("Hello", "en"),
        ("what documents do I need for a work permit", "en"),
    ],
)
def test_detects(text, expected):
    detection = detect_language(text)
    assert detection is not None and detection.language == expected


@pytest.mark.parametrize("text", ["", "ok", "😀😀😀", "12345", "?!", "C01234567"])
def test_undecidable_is_none(text):
    assert detect_language(text) is None


def test_normalize_telegram_language_codes():
    assert normalize_language("ru-RU") == "ru"
    assert normalize_language("az_Latn", "en") == "az"
    assert normalize_language("de", "az") == "az"
    assert normalize_language(None, "en") == "en"
