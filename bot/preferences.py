"""Which language to answer a chat in."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import async_sessionmaker

from bot.models import ChatPreference
from core.data_key import Sealer
from core.i18n import normalize_language
from core.language import detect_language


class LanguagePreferences:
    def __init__(self, sessions: async_sessionmaker, default: str, sealer: Sealer) -> None:
        self._sessions = sessions
        self.default = default
        self._sealer = sealer

    async def get(self, chat_id: int) -> ChatPreference | None:
        async with self._sessions() as session:
            return await session.get(ChatPreference, self._sealer.chat_hash(chat_id))

    async def set(self, chat_id: int, language: str, *, explicit: bool) -> None:
        chat_hash = self._sealer.chat_hash(chat_id)
        async with self._sessions() as session, session.begin():
            preference = await session.get(ChatPreference, chat_hash)
            if preference is None:
                session.add(ChatPreference(chat_hash=chat_hash, language=language, explicit=explicit))
            else:
                preference.language, preference.explicit = language, explicit

    async def resolve(self, chat_id: int, text: str | None, language_code: str | None) -> str:
        """The user's explicit choice wins; then the language of this message; then the last one we used;
        then Telegram's language_code; then the default."""
        preference = await self.get(chat_id)
        if preference is not None and preference.explicit:
            return preference.language
        detected = detect_language(text) if text else None
        if detected is not None:
            if preference is None or preference.language != detected.language:
                await self.set(chat_id, detected.language, explicit=False)
            return detected.language
        if preference is not None:
            return preference.language
        return normalize_language(language_code, self.default)
