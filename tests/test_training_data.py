"""The engine's training data is valid for Rasa itself (its own environment, `rasa data validate`)."""

from assistant.bootstrap import open_database
from assistant.settings import Settings
from assistant.training import fingerprint, validate_data, write_generated_data
from knowledge.store import KnowledgeBase


async def test_rasa_data_validate_passes(tmp_path):
    settings = Settings(_env_file=None, data_dir=tmp_path)
    database = await open_database(settings)
    try:
        await write_generated_data(settings, KnowledgeBase(database.sessions))
    finally:
        await database.close()
    code = await validate_data(settings)
    assert code == 0, (tmp_path / "logs" / "validate.log").read_text()[-3000:]


async def test_fingerprint_changes_with_the_knowledge_base(tmp_path):
    settings = Settings(_env_file=None, data_dir=tmp_path)
    database = await open_database(settings)
    try:
        kb = KnowledgeBase(database.sessions)
        await write_generated_data(settings, kb)
        before = fingerprint(settings)
        await write_generated_data(settings, kb)
        assert fingerprint(settings) == before  # same data, same model
        entry = (await kb.export())[0]
        entry.texts["en"].variants.append("a brand new way to ask this question")
        await kb.upsert([entry])
        await write_generated_data(settings, kb)
        assert fingerprint(settings) != before
    finally:
        await database.close()
