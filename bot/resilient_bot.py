"""An ExtBot that survives updates it cannot parse.

python-telegram-bot parses a whole getUpdates batch at once; one update it cannot read (a newer Bot API
field, a malformed object) fails the batch, and the updater retries the same offset forever: the bot would go
silent for everyone. Here each update is checked on its own; an unreadable one is reduced to its
`update_id`, so it is confirmed and skipped (and logged), and the rest of the batch is handled as usual.
"""

from __future__ import annotations

import logging
from typing import Any

from telegram import Update
from telegram.ext import ExtBot

log = logging.getLogger(__name__)


class ResilientExtBot(ExtBot):
    async def _post(self, endpoint: str, data: Any = None, *args: Any, **kwargs: Any) -> Any:
        result = await super()._post(endpoint, data, *args, **kwargs)
        if endpoint != "getUpdates" or not isinstance(result, list):
            return result
        checked = []
        for raw in result:
            try:
                Update.de_json(raw, self)
                checked.append(raw)
            except Exception as error:  # noqa: BLE001 - PTB's parser on foreign data may raise anything; logged, skipped
                kinds = [k for k in raw if k != "update_id"] if isinstance(raw, dict) else []
                log.error(
                    "skipping update %s of kind %s that cannot be parsed: %s",
                    raw.get("update_id") if isinstance(raw, dict) else "?",
                    kinds,
                    type(error).__name__,
                )
                if isinstance(raw, dict) and isinstance(raw.get("update_id"), int):
                    checked.append({"update_id": raw["update_id"]})
        return checked
