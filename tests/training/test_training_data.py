"""The engine's training data is valid for Rasa itself (its own environment, `rasa data validate`)."""

import pytest

from core.settings import Settings
from knowledge.seeding import knowledge_base
from training.trainer import fingerprint, validate_data, write_generated_data


@pytest.mark.slow  # Rasa's own validation in its environment
async def test_rasa_data_validate_passes(tmp_path):
    settings = Settings(_env_file=None, data_dir=tmp_path)
    async with knowledge_base(settings) as kb:
        code = await validate_data(settings, kb)
    assert code == 0, (tmp_path / "logs" / "validate.log").read_text()[-3000:]


async def test_fingerprint_changes_with_the_knowledge_base(tmp_path):
    settings = Settings(_env_file=None, data_dir=tmp_path)
    async with knowledge_base(settings) as kb:
        await write_generated_data(settings, kb)
        before = fingerprint(settings)
        await write_generated_data(settings, kb)
        assert fingerprint(settings) == before  # same data, same model
        entry = (await kb.export())[0]
        entry.texts["en"].variants.append("a brand new way to ask this question")
        await kb.upsert([entry])
        await write_generated_data(settings, kb)
        assert fingerprint(settings) != before


def test_every_intent_has_at_least_15_examples_per_language():
    import yaml

    from core.settings import PROJECT_ROOT

    expected = {
        "greet",
        "goodbye",
        "thanks",
        "help",
        "choose_language",
        "human_handoff",
        "check_status",
        "cancel",
        "affirm",
        "deny",
        "bot_challenge",
        "out_of_scope",
    }
    for language in ("az", "ru", "en"):
        document = yaml.safe_load((PROJECT_ROOT / "nlu_data" / f"nlu_{language}.yml").read_text(encoding="utf-8"))
        counts = {
            item["intent"]: len({line for line in item["examples"].splitlines() if line.startswith("- ")})
            for item in document["nlu"]
            if "intent" in item
        }
        assert set(counts) == expected, language
        for intent, count in counts.items():
            assert count >= 15, f"{language}/{intent}: {count} examples"
