"""The installation's secret (for keyed hashes of chat ids): from the settings, or made once and kept."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets

from assistant.settings import Settings


def secret_key(settings: Settings) -> bytes:
    if settings.secret_key is not None:
        return settings.secret_key.get_secret_value().encode()
    path = settings.data_dir / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        # O_EXCL: when two processes race, one creates the file and the other reads it.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(48))
        except FileExistsError:
            pass
    return path.read_text().strip().encode()


def keyed_hash(secret: bytes, text: str) -> str:
    """A stable pseudonym for an identifier (a chat id): countable, not reversible without the secret."""
    return hmac.new(secret, text.encode(), hashlib.sha256).hexdigest()
