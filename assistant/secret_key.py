"""The installation's secret (for keyed hashes of chat ids): from the settings, or made once and kept."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from assistant.private_files import write_once
from assistant.settings import Settings


def secret_key(settings: Settings) -> bytes:
    if settings.secret_key is not None:
        return settings.secret_key.get_secret_value().encode()
    path = settings.data_dir / "secret_key"
    if not path.exists():
        write_once(path, secrets.token_urlsafe(48))
    return path.read_text().strip().encode()


def keyed_hash(secret: bytes, text: str) -> str:
    """A stable pseudonym for an identifier (a chat id): countable, not reversible without the secret."""
    return hmac.new(secret, text.encode(), hashlib.sha256).hexdigest()
