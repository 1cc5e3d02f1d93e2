"""A local Telegram Bot API emulator: the real python-telegram-bot talks to it through `base_url`."""
