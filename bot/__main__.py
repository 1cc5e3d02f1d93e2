"""`python -m bot`: runs the Telegram gateway (long polling, or a webhook when ASSISTANT_WEBHOOK_URL is set)."""

from bot.app import run
from core.logs import configure_logging
from core.settings import Settings

settings = Settings()
configure_logging("gateway", settings.log_level)
run(settings)
