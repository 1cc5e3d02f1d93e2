"""`python -m bot`: runs the Telegram gateway (long polling, or a webhook when ASSISTANT_WEBHOOK_URL is set)."""

from assistant.logs import configure_logging
from assistant.settings import Settings
from bot.app import run

settings = Settings()
configure_logging("gateway", settings.log_level)
run(settings)
