"""When the assistant answers directly and when it offers a choice."""

from rasa_sdk import Tracker

from actions.faq import selected_entry


def tracker(ranking: list[tuple[str, float]], entities: list | None = None) -> Tracker:
    top_key, top_confidence = ranking[0]
    message = {
        "text": "question",
        "entities": entities or [],
        "response_selector": {
            "faq": {
                "response": {"intent_response_key": f"faq/{top_key}", "confidence": top_confidence},
                "ranking": [{"intent_response_key": f"faq/{k}", "confidence": c} for k, c in ranking],
            }
        },
    }
    return Tracker("s", {}, message, [], False, None, {}, "action_listen")


def test_likely_answer_is_given():
    assert selected_entry(tracker([("a", 0.62), ("b", 0.30)])) == ("a", 0.62, True)


def test_clear_lead_is_given_even_below_half():
    assert selected_entry(tracker([("a", 0.34), ("b", 0.11)]))[2] is True


def test_close_call_offers_a_choice():
    assert selected_entry(tracker([("a", 0.34), ("b", 0.30)]))[2] is False
    assert selected_entry(tracker([("a", 0.28), ("b", 0.07)]))[2] is False  # too unlikely in any case


def test_button_pick_wins():
    picked = tracker([("a", 0.2), ("b", 0.19)], entities=[{"entity": "entry", "value": "b"}])
    assert selected_entry(picked) == ("b", 1.0, True)
