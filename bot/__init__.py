"""The Telegram gateway: turns Telegram updates into engine messages and engine replies into Telegram messages."""
