"""The installation's secret (for keyed hashes of chat ids): from the settings, or made once and kept.

A key kept in a file under the data folder is only made when the database is the embedded SQLite file in
that same folder: then the folder is the installation, and the key goes wherever the database goes. Against
any other database (PostgreSQL, shared by services on other hosts) a key made here would be this process's
alone: rows it writes would not match or decrypt anywhere else, and a migration run here would encrypt the
existing data with it. There the settings must give the keys (`python -m assistant run` makes its own files
for the services it starts, assistant/launcher.py); a key file already in the folder is still used.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from pathlib import Path

from sqlalchemy.engine import make_url

from core.private_files import write_once
from core.settings import Settings

SECRET_FILE = "secret_key"


class MissingKeyError(RuntimeError):
    """A key the settings must give: the database is shared, so a key made in this data folder would be wrong."""


def own_database(settings: Settings) -> bool:
    """True when the database is an SQLite file inside the data folder (the embedded default)."""
    url = make_url(settings.sqlalchemy_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return False
    return Path(url.database).resolve().is_relative_to(settings.data_dir.resolve())


def key_in_folder(settings: Settings, name: str, make: str, variable: str) -> Path:
    """The data folder's key file `name`, written with `make` when missing and the database is our own."""
    path = settings.data_dir / name
    if not path.exists():
        if not own_database(settings):
            raise MissingKeyError(
                f"{variable} must be set: the database ({make_url(settings.sqlalchemy_url).get_backend_name()}) "
                f"is not the embedded one under {settings.data_dir}, so a key made here would be this "
                "process's alone (every service and command using that database needs the same key)"
            )
        write_once(path, make)
    return path


def new_secret() -> str:
    return secrets.token_urlsafe(48)


def secret_key(settings: Settings) -> bytes:
    if settings.secret_key is not None:
        return settings.secret_key.get_secret_value().encode()
    path = key_in_folder(settings, SECRET_FILE, new_secret(), "ASSISTANT_SECRET_KEY")
    return path.read_text().strip().encode()


def keyed_hash(secret: bytes, text: str) -> str:
    """A stable pseudonym for an identifier (a chat id): countable, not reversible without the secret."""
    return hmac.new(secret, text.encode(), hashlib.sha256).hexdigest()
