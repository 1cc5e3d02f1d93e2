import pytest

from bot.rendering import TELEGRAM_LIMIT, callback_data, render, say, split_html, utf16_len
from telegram_emulator.html_check import parse_html


def answer_payload(**overrides):
    payload = {
        "type": "answer",
        "entry": "registration_who_when_how",
        "language": "en",
        "question": "Who must register <and> when?",
        "text": "Within 15 days & free of charge.",
        "source": "Migration Code, Article 20",
        "source_url": "https://migration.gov.az/en/useful_detail/567?a=1&b=2",
        "reviewed_on": "2026-11-24",
        "review_state": "published",
    }
    payload.update(overrides)
    return {"custom": payload}


@pytest.mark.parametrize("language", ["az", "ru", "en"])
def test_answer_is_valid_telegram_html_with_source_and_date(language):
    rendered = render(language, [answer_payload()])
    (message,) = rendered.messages
    parsed = parse_html(message.html)  # raises if Telegram would reject it
    assert "Who must register <and> when?" in parsed.text
    assert "Within 15 days & free of charge." in parsed.text
    assert "Migration Code, Article 20" in parsed.text
    assert any(e["type"] == "text_link" and e["url"].endswith("a=1&b=2") for e in parsed.entities)
    assert "2026" in parsed.text


def test_needs_review_answers_carry_a_warning():
    (message,) = render("ru", [answer_payload(review_state="needs_review")]).messages
    assert "919" in parse_html(message.html).text


def test_say_is_localized_and_escapes_arguments():
    text = say("ru", "too_long", length="<b>9</b>", limit=1000)
    assert "слишком длинное" in text and "&lt;b&gt;" in text
    parse_html(text)


def test_unknown_key_and_missing_args_do_not_crash():
    assert say("az", "no-such-key")
    assert say("en", "too_long")  # placeholders left unfilled rather than raising


def test_set_language_and_menu():
    rendered = render(
        "en", [{"custom": {"type": "set_language", "language": "ru"}}, {"custom": {"type": "language_menu"}}]
    )
    assert rendered.new_language == "ru"
    assert "русском" in rendered.messages[0].html
    assert [b.data for b in rendered.messages[1].buttons[0]] == ["lang:az", "lang:ru", "lang:en"]


def test_plain_text_from_engine_is_escaped():
    (message,) = render("en", [{"text": "<script>alert(1)</script> & co"}]).messages
    assert parse_html(message.html).text == "<script>alert(1)</script> & co"


@pytest.mark.parametrize("unit", ["word ", "😀", "&amp;", "x"])
def test_split_keeps_every_part_under_the_limit_and_loses_nothing(unit):
    text = "<b>Title</b>\n\n" + unit * 5000 + "\n" + "tail line"
    parts = split_html(text)
    assert len(parts) > 1
    for part in parts:
        assert utf16_len(part) <= TELEGRAM_LIMIT
        parse_html(part)
    joined = "".join(parse_html(p).text for p in parts).replace("\n", "").replace(" ", "")
    original = parse_html(text).text.replace("\n", "").replace(" ", "")
    assert joined == original


def test_long_payloads_become_short_callback_data():
    assert callback_data("/faq") == "/faq"
    long = callback_data("/" + "x" * 200)
    assert len(long.encode()) <= 64 and long.startswith("ref:")


def test_not_understood_is_flagged_for_the_metrics():
    choices = {"custom": {"type": "did_you_mean", "options": [{"entry": "visa_free_stay", "question": "?"}]}}
    assert render("en", [choices]).not_understood
    assert render("en", [{"custom": {"type": "say", "key": "no_answer"}}]).not_understood
    assert render("en", []).not_understood  # nothing to say is also not understanding
    assert not render("en", [{"custom": {"type": "say", "key": "greet"}}]).not_understood
    assert not render("en", [{"custom": {"type": "handoff", "reason": "asked"}}]).not_understood


def test_an_over_long_source_is_cut_with_an_ellipsis_and_the_answer_stays_formatted():
    source = ("Law <No. 5> & Decree “A&B” > rules " * 200)[:5000]
    rendered = render("en", [answer_payload(source=source)])
    (message,) = rendered.messages  # the answer fits one message again
    assert utf16_len(message.html) <= TELEGRAM_LIMIT
    parsed = parse_html(message.html)  # raises if Telegram would reject it
    (link,) = [e for e in parsed.entities if e["type"] == "text_link"]
    assert link["url"].endswith("a=1&b=2")
    units = parsed.text.encode("utf-16-le")  # entity offsets count UTF-16 units
    linked = units[2 * link["offset"] : 2 * (link["offset"] + link["length"])].decode("utf-16-le")
    assert linked.startswith("Law <No. 5> & Decree") and linked.endswith("…")
    assert len(linked) <= 500 and not linked.endswith(" …")
    assert any(e["type"] == "italic" for e in parsed.entities)
    assert message.buttons  # the rating buttons are still there


def test_a_line_of_markup_longer_than_the_limit_is_split_into_valid_balanced_parts():
    words = " ".join(f"w{i}&amp;&lt;x&gt;" for i in range(700))  # escaped text, as rendering makes it
    text = f'<b>{words}</b>\n<i>📖 <a href="https://example.org/?a=1&amp;b=2">{words}</a></i>'
    parts = split_html(text)
    assert len(parts) >= 3
    for part in parts:
        assert utf16_len(part) <= TELEGRAM_LIMIT
        parsed = parse_html(part)  # balanced tags, whole entities
        assert parsed.entities, part[:80]  # what was bold or linked stays so in every part
    joined = "".join(parse_html(p).text for p in parts).replace("\n", "").replace(" ", "")
    assert joined == parse_html(text).text.replace("\n", "").replace(" ", "")
    links = [e for p in parts for e in parse_html(p).entities if e["type"] == "text_link"]
    assert links and all(e["url"] == "https://example.org/?a=1&b=2" for e in links)


def test_a_word_longer_than_the_limit_inside_a_tag_is_cut_and_the_tag_reopened():
    text = "<b>" + "я" * 9000 + "</b>"
    parts = split_html(text)
    assert len(parts) == 3
    for part in parts:
        assert utf16_len(part) <= TELEGRAM_LIMIT and part.startswith("<b>") and part.endswith("</b>")
        parse_html(part)


def test_no_part_ends_with_a_tag_opened_for_nothing():
    text = "x" * 4080 + "<b>" + "y" * 3000 + "</b>"  # no space to break at
    parts = split_html(text)
    assert all(not p.endswith("<b></b>") for p in parts), [p[-20:] for p in parts]
    assert parts[1].startswith("<b>y") and all(parse_html(p) for p in parts)


def test_an_answer_offers_its_related_questions_under_the_rating_buttons():
    related = [{"entry": f"entry_{i}", "question": f"Question {i} <b>?" + " long" * 20} for i in range(4)]
    (message,) = render("en", [answer_payload(related=related)]).messages
    rows = [[b.data for b in row] for row in message.buttons]
    assert rows[0] == ["rate:+:registration_who_when_how", "rate:-:registration_who_when_how"]
    assert rows[1:] == [[f'/faq{{"entry":"entry_{i}"}}'] for i in range(3)]  # at most three
    assert all(len(b.title) <= 64 for row in message.buttons for b in row)
    assert message.rated == "registration_who_when_how"
    (plain,) = render("en", [answer_payload(related="junk")]).messages  # a malformed list is ignored
    assert len(plain.buttons) == 1


@pytest.mark.parametrize(
    ("language", "title"), [("en", "Work permit"), ("ru", "Разрешение на работу"), ("az", "İş icazəsi")]
)
def test_a_clarifying_question_names_the_subjects_in_the_users_language(language, title):
    payload = {
        "type": "clarify",
        "aspect": "time",
        "options": [
            {"entry": "work_permit_processing_time", "subject": "work_permit", "question": "How long?"},
            {"entry": "unknown_subject_entry", "subject": "no_such_subject", "question": "Its own question"},
            "junk",
        ],
    }
    rendered = render(language, [{"custom": payload}])
    (message,) = rendered.messages
    titles = [row[0].title for row in message.buttons]
    assert titles[:2] == [title, "Its own question"]
    assert message.buttons[0][0].data == '/faq{"entry":"work_permit_processing_time"}'
    assert message.buttons[-1][0].data == "/human_handoff"
    assert not rendered.not_understood  # a clarifying question is not a failure to understand


def say_payload(key: str, **extra):
    return {"custom": {"type": "say", "key": key, **extra}}


CASE = {
    "type": "case_status",
    "application_number": "TRP-2026-000102",
    "service_type": "temporary_residence",
    "status": "in_review",
}


@pytest.mark.parametrize(
    ("replies", "outcome", "entry"),
    [
        ([answer_payload(), say_payload("anything_else")], "answered", "registration_who_when_how"),
        ([{"custom": {"type": "did_you_mean", "options": [{"entry": "a", "question": "A?"}]}}], "did_you_mean", None),
        (
            [
                {
                    "custom": {
                        "type": "clarify",
                        "aspect": "fee",
                        "options": [{"entry": "a", "question": "A?", "subject": "x"}],
                    }
                }
            ],
            "clarify",
            None,
        ),
        ([say_payload("no_answer", offer_human=True)], "not_understood", None),
        ([], "not_understood", None),
        ([say_payload("out_of_scope")], "out_of_scope", None),
        (
            [say_payload("not_understood"), {"custom": {"type": "handoff", "reason": "not_understood"}}],
            "handed_over",
            None,
        ),
        ([{"custom": CASE}], "status_found", None),
        ([say_payload("status_not_found")], "status_not_found", None),
        ([say_payload("status_locked", args={"until": "2026-12-07T10:00:00+00:00"})], "status_locked", None),
        ([say_payload("status_application_paused")], "status_locked", None),
        ([say_payload("status_unavailable", offer_human=True)], "status_unavailable", None),
        ([say_payload("greet")], "other", None),
        ([{"text": "plain words"}], "other", None),
        ([{"custom": {"type": "set_language", "language": "ru"}}], "other", None),
    ],
)
def test_each_reply_names_what_became_of_the_message(replies, outcome, entry):
    rendered = render("en", replies)
    assert (rendered.outcome, rendered.entry) == (outcome, entry)
