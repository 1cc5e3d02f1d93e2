"""An entry's three languages state the same figures and use the legal terms (knowledge/consistency.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from knowledge.__main__ import main
from knowledge.consistency import figure_mismatches, figures, glossary, glossary_problems, problems, sentences
from knowledge.schema import SEED_DIR, EntryData, dump_yaml, load_dir

NEUTRAL = {
    "az": "Ətraflı məlumat üçün müraciət edin.",
    "ru": "Подробности уточните при обращении.",
    "en": "Ask for details.",
}


def entry(
    answers: dict[str, str] | None = None,
    questions: dict[str, str] | None = None,
    topic: str = "registration",
    key: str = "test_entry",
) -> EntryData:
    answers, questions = answers or {}, questions or {}
    return EntryData.model_validate(
        {
            "key": key,
            "topic": topic,
            "legal_source": "Migration Code of the Republic of Azerbaijan",
            "reviewed_on": "2026-12-01",
            "texts": {
                lang: {
                    "question": questions.get(lang, f"A question {lang} {key}?"),
                    "answer": answers.get(lang, NEUTRAL[lang]),
                    "variants": [f"first variant {lang} {key}", f"second variant {lang} {key}"],
                }
                for lang in ("az", "ru", "en")
            },
        }
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # amounts with thousands separators, the way each language writes them
        ("1 year: 1,000 / 1,200 / 1,400 manats", {"1", "1000", "1200", "1400"}),
        ("1 год: 1000 / 1200 / 1400 манатов", {"1", "1000", "1200", "1400"}),
        ("1 il: 1 000 / 1\u00a0200 / 1\u202f400 manat", {"1", "1000", "1200", "1400"}),
        ("azı 500.000 manat investisiya", {"500000"}),
        ("1.000.000 manat", {"1000000"}),
        ("3,000", {"3000"}),
        # decimals
        ("photos 3.5x4.5 cm", {"3.5", "4.5"}),
        ("фото 3,5×4,5 см", {"3.5", "4.5"}),
        ("1,50 manat", {"1.5"}),
        ("Article 21.9", {"21.9"}),
        ("10, 15 və 20 iş günü", {"10", "15", "20"}),
        # phone numbers
        ("UNHCR: +994 51 207 59 96.", {"+994512075996"}),
        ("(+994-51-207-59-96)", {"+994512075996"}),
        ("+994512075996", {"+994512075996"}),
        ("919 ((012) 919 from mobiles)", {"919", "(012) 919"}),
        ("(012) 919-dan zəng edin", {"(012) 919"}),
        ("(012) 493 12 34", {"(012) 4931234"}),
        ("012 493 12 34", {"(012) 4931234"}),
        ("(012) 919 24 saat", {"(012) 919", "24"}),
        ("code 012", {"012"}),
        ("12 months", {"12"}),
        # ranges, any dash or words
        ("300-400 manat", {"300", "400"}),
        ("300–400 манатов", {"300", "400"}),
        ("from 300 to 400 manats", {"300", "400"}),
        ("1988–1992-ci illərdə", {"1988", "1992"}),
        # years, days, dates, times, suffixes
        ("2014-cü ilin iyulun 1-dən", {"2014", "1"}),
        ("from 1 July 2014", {"1", "2014"}),
        ("the 15th day", {"15"}),
        ("25.11.2025", {"25", "2025"}),
        ("2025-11-25", {"2025", "25"}),
        ("Mon-Fri 9:00–17:00", {"9:00", "17:00"}),
        ("09:00-dan", {"9:00"}),
        ("09 və 17", {"9", "17"}),
        # legal references: the same digits in every language
        ("articles 45.1.1-45.1.7", {"45.1.1", "45.1.7"}),
        ("45.1.1–45.1.7-ci maddələr", {"45.1.1", "45.1.7"}),
        ("Law 421-IQ of 1997", {"421", "1997"}),
        ("Закон № 421-IQ 1997 года", {"421", "1997"}),
        # links and e-mail addresses are not figures
        ("migration.gov.az/en/useful_detail/567", set()),
        ("https://migration.gov.az/az/news_detail/14096", set()),
        ("qeydiyyat@migration.gov.az, e-gov.az", set()),
        # numbers in words are not figures (the house style writes digits)
        ("five years", set()),
    ],
)
def test_figures(text, expected):
    assert figures(text) == expected


def test_zero_led_codes_are_not_amounts():
    assert figures("012") != figures("12")
    assert figures("(012) 919") != figures("12 919")


def test_same_figures_written_differently_agree():
    same = entry(
        {
            "en": "Fees: 1,000 AZN for 1 year; 300 to 400 manats; call +994 51 207 59 96 or (012) 919.",
            "ru": "Пошлина: 1000 AZN за 1 год; 300–400 манатов; звоните +994 51 207 59 96 или (012) 919.",
            "az": "Rüsum: 1 il üçün 1 000 AZN; 300-400 manat; +994 51 207 59 96 və ya (012) 919 nömrəsinə zəng edin.",
        }
    )
    assert figure_mismatches(same) == []


def test_a_missing_figure_is_named_with_the_languages():
    mixed = entry(
        {
            "en": "1 year costs 1,200 manats.",
            "ru": "1 год стоит много манатов.",
            "az": "1 il 1 200 manat, 15 gün ərzində.",
        }
    )
    assert figure_mismatches(mixed) == [
        "ru answer lacks 1200 (in az, en)",
        "az answer has 15 that ru, en lack",
    ]


def test_questions_are_compared_too():
    asked = entry(questions={"en": "Is it 90 days?", "ru": "Это 90 дней?", "az": "Bu neçə gündür?"})
    assert figure_mismatches(asked) == ["az question lacks 90 (in ru, en)"]


# (language, topic, text, the wording the check must quote)
FIRING = [
    ("az", "registration", "Əcnəbilər yaşadığı yer üzrə qeydiyyata alınmalıdır.", "yaşadığı yer üzrə"),
    ("az", "registration", "Yaşadığım yer üzrə qeydiyyatdan onlayn necə keçim?", "Yaşadığım yer üzrə"),
    ("az", "registration", "Yaşayış yeri üzrə qeydiyyata kim düşməlidir?", "Yaşayış yeri üzrə"),
    ("az", "family", "Uşaq ölkəyə gəldikdən 15 gün ərzində yaşayış yeri üzrə qeydiyyata alınır.", "yaşayış yeri üzrə"),
    ("az", "registration", "Mehmanxanada qaldığı yer üzrə qeydiyyat pulsuzdur.", "qaldığı yer üzrə"),
    ("az", "temporary_residence", "Müvəqqəti yaşama icazəsi 1 ilədək verilir.", "yaşama icazəsi"),
    ("az", "temporary_residence", "Yaşayış icazəsi üçün müraciət edin.", "Yaşayış icazəsi"),
    ("az", "temporary_residence", "İkamət icazəsi almaq istəyirsinizsə, müraciət edin.", "İkamət icazəsi"),
    ("az", "temporary_residence", "Yaşayış vəsiqəsi itibsə, bildirin.", "Yaşayış vəsiqəsi"),
    ("az", "contacts", "Miqrasiya Xidmətinə müraciət edin.", "Miqrasiya Xidmətinə"),
    ("az", "statelessness", "Vətəndaşlıqsız şəxslər də müraciət edə bilər.", "Vətəndaşlıqsız şəxslər"),
    ("ru", "registration", "Зарегистрируйтесь по месту жительства.", "по месту жительства"),
    (
        "ru",
        "family",
        "Ребёнка регистрируют по месту жительства в течение 15 дней со дня прибытия.",
        "по месту жительства",
    ),
    ("ru", "registration", "Нужна ли прописка иностранцу?", "прописка"),
    ("ru", "registration", "Временная регистрация бесплатна.", "Временная регистрация"),
    ("ru", "temporary_residence", "Как получить вид на жительство?", "вид на жительство"),
    ("ru", "permanent_residence", "Для ПМЖ нужно 2 года.", "ПМЖ"),
    ("ru", "temporary_residence", "Срок ВНЖ — 1 год.", "ВНЖ"),
    ("ru", "contacts", "Обратитесь в миграционную службу.", "миграционную службу"),
    ("ru", "contacts", "Обратитесь в УФМС.", "УФМС"),
    ("en", "registration", "Residence registration is free.", "Residence registration"),
    ("en", "registration", "Register at your place of residence.", "place of residence"),
    ("en", "family", "Register the child at your place of residence within 15 days of arrival.", "place of residence"),
    ("en", "registration", "Temporary registration is free.", "Temporary registration"),
    ("en", "registration", "Do I need a propiska?", "propiska"),
    ("en", "contacts", "Apply to the Migration Service.", "Migration Service"),
    ("en", "contacts", "Ask the migration police.", "migration police"),
    ("en", "temporary_residence", "How long is a residency permit valid?", "residency permit"),
]

# (language, topic, text) that no rule may refuse: the right terms, and the wrong-looking words where they are right
NOT_FIRING = [
    ("az", "registration", "Ölkəyə gəldikdən 15 gün ərzində olduğu yer üzrə qeydiyyata alınmalısınız."),
    ("az", "family", "Uşaq yaşadığı yer üzrə məktəbə yazılır."),
    ("az", "permanent_residence", "İcazə vəsiqəsi yaşayış yeri üzrə qeydiyyatınızı təsdiq edir."),
    ("az", "registration", "Müvəqqəti yaşamaq üçün icazə alanlar yaşayış yeri üzrə qeydiyyata alınır."),
    ("az", "temporary_residence", "Müvəqqəti yaşamaq icazəsi və icazə vəsiqəsi 1 ilədək verilir."),
    ("az", "temporary_residence", "Yaşayış sahəsinin sahibi ərizə verir."),
    ("az", "contacts", "Dövlət Miqrasiya Xidmətinə (DMX) müraciət edin."),
    ("az", "statelessness", "Heç bir uşaq vətəndaşlıqsız doğulmasın; vətəndaşlığı olmayan şəxslər də müraciət edir."),
    ("ru", "registration", "В течение 15 дней со дня прибытия зарегистрируйтесь по месту пребывания."),
    ("ru", "permanent_residence", "Карта удостоверяет личность и регистрацию по месту жительства."),
    ("ru", "registration", "Имеющие разрешение на временное проживание регистрируются по месту жительства."),
    ("ru", "contacts", "Готовые карты получают в региональном управлении по месту жительства."),
    ("ru", "citizenship", "Докажите проживание: старый советский паспорт, прописка, документы о работе."),
    ("ru", "statelessness", "Соберите старый паспорт, штампы прописки, справки с работы."),
    ("ru", "temporary_residence", "Разрешение на временное проживание выдаётся на 1 год."),
    ("ru", "contacts", "Обратитесь в Государственную миграционную службу (ГМС)."),
    ("ru", "contacts", "Миграционная служба России здесь не поможет; ФМС России тоже."),
    ("en", "registration", "Register at your place of stay within 15 days of arrival."),
    ("en", "permanent_residence", "The permission card proves your registration at your place of residence."),
    ("en", "registration", "Holders of a residence permit are registered at their place of residence."),
    ("en", "citizenship", "Proof such as an old Soviet passport with a propiska stamp."),
    ("en", "contacts", "Apply to the State Migration Service (SMS)."),
    ("en", "temporary_residence", "A temporary residence permit is issued for up to 1 year."),
]


@pytest.mark.parametrize(("lang", "topic", "text", "said"), FIRING)
def test_glossary_rule_fires(lang, topic, text, said):
    found = glossary_problems(entry({lang: text}, topic=topic))
    assert len(found) == 1 and found[0].startswith(f'{lang} answer says "{said}": write "'), found
    asked = glossary_problems(entry(questions={lang: text}, topic=topic))
    assert len(asked) == 1 and asked[0].startswith(f'{lang} question says "{said}"'), asked


@pytest.mark.parametrize(("lang", "topic", "text"), NOT_FIRING)
def test_glossary_rule_stays_quiet(lang, topic, text):
    assert glossary_problems(entry({lang: text}, topic=topic)) == []


def test_every_glossary_rule_has_a_firing_example():
    rules = glossary()
    assert set(rules) == {"az", "ru", "en"}
    for lang, lang_rules in rules.items():
        assert 6 <= len(lang_rules) <= 15, lang
        for rule in lang_rules:
            assert any(
                rule.matches(sentence, topic)
                for example_lang, topic, text, _ in FIRING
                if example_lang == lang
                for sentence in sentences(text)
            ), f"{lang}: no example fires {rule.avoid!r}"


def test_variants_are_not_checked():
    loose = entry({"az": "Olduğu yer üzrə qeydiyyat pulsuzdur."})
    loose.texts["az"].variants.append("yaşadığı yer üzrə qeydiyyat necə olur")
    assert problems(loose) == []


def write(path: Path, entries: list[EntryData]) -> Path:
    path.write_text(dump_yaml(entries), encoding="utf-8")
    return path


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    data = tmp_path / "data"
    monkeypatch.setenv("ASSISTANT_DATA_DIR", str(data))
    return data


def test_validate_refuses_a_file_with_problems(tmp_path, data_dir, capsys):
    bad = write(
        tmp_path / "bad.yml",
        [entry({"en": "Fine: 300 to 400 manats.", "ru": "Штраф 300–400 манатов.", "az": "Cərimə 300–500 manat."})],
    )
    assert main(["validate", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "test_entry (bad.yml): az answer lacks 400 (in ru, en)" in err
    assert "test_entry (bad.yml): az answer has 500 that ru, en lack" in err


def test_validate_passes_a_good_file_and_folder(tmp_path, data_dir, capsys):
    good = [
        entry({"en": "Fine: 300 to 400 manats.", "ru": "Штраф 300–400 манатов.", "az": "Cərimə 300–400 manat."}),
        entry({"az": "Olduğu yer üzrə qeydiyyat pulsuzdur."}, key="second_entry"),
    ]
    folder = tmp_path / "folder"
    folder.mkdir()
    write(folder / "good.yml", good)
    assert main(["validate", str(folder / "good.yml")]) == 0
    assert main(["validate", str(folder)]) == 0
    assert "2 entries are valid" in capsys.readouterr().out


def test_import_refuses_before_touching_the_database(tmp_path, data_dir, capsys):
    bad = write(tmp_path / "bad.yml", [entry({"az": "Yaşadığı yer üzrə qeydiyyat pulsuzdur."})])
    assert main(["import", str(bad)]) == 1
    assert 'az answer says "Yaşadığı yer üzrə"' in capsys.readouterr().err
    assert not (data_dir / "assistant.db").exists()


def test_validate_names_the_file_of_each_problem(tmp_path, data_dir, capsys):
    folder = tmp_path / "seed"
    folder.mkdir()
    write(folder / "a.yml", [entry(key="good_one")])
    write(folder / "b.yml", [entry({"ru": "Нужна ли прописка?"}, key="bad_one")])
    assert main(["validate", str(folder)]) == 1
    assert 'bad_one (b.yml): ru answer says "прописка"' in capsys.readouterr().err


def test_glossary_file_is_well_formed():
    raw = yaml.safe_load((Path(__file__).resolve().parents[2] / "knowledge" / "glossary.yml").read_text())
    for lang_rules in raw.values():
        for rule in lang_rules:
            assert {"avoid", "pattern", "use", "why"} <= set(rule)


def test_seed_has_no_problems():
    """Every seed entry states the same figures in its three languages and uses the legal terms."""
    found = [f"{e.key}: {problem}" for e in load_dir(SEED_DIR) for problem in problems(e)]
    assert not found, "\n".join(found)
