from bot.preferences import LanguagePreferences
from core.bootstrap import open_database
from core.data_key import sealer


async def test_language_resolution_order(db_settings):
    database = await open_database(db_settings)
    try:
        prefs = LanguagePreferences(database.sessions, "az", sealer(db_settings))
        # Nothing known: Telegram's language_code, then the default.
        assert await prefs.resolve(1, None, "ru-RU") == "ru"
        assert await prefs.resolve(2, None, None) == "az"
        assert await prefs.resolve(2, "ok", "de") == "az"
        # The language of the message wins and is remembered for messages that do not tell.
        assert await prefs.resolve(3, "How do I register?", "ru") == "en"
        assert await prefs.resolve(3, "👍", "ru") == "en"
        assert await prefs.resolve(3, "Как продлить визу?", None) == "ru"
        # An explicit choice wins over everything.
        await prefs.set(3, "az", explicit=True)
        assert await prefs.resolve(3, "How do I register?", "en") == "az"
        await prefs.set(3, "en", explicit=True)
        assert await prefs.resolve(3, "Как продлить визу?", "ru") == "en"
    finally:
        await database.close()
