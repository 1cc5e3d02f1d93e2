"""The data key: what must be readable again but not by whoever copies the database (handoff transcripts,
the case API's access tokens, the chat ids we write to) is stored encrypted with it, Fernet (AES-128-CBC with
an HMAC-SHA256; MultiFernet decrypts with any of several keys, which is what rotation needs). Chat ids that
are only looked up are stored as keyed hashes (core/secret_key.py) instead; a `Sealer` does both.

The key comes from the settings (`ASSISTANT_DATA_KEY`, with `ASSISTANT_DATA_KEYS_PREVIOUS` while rotating) or,
when unset, from the file `data_key` under the data folder, made once (0600): one key per line, the first
encrypts, all decrypt. The file is only made beside the embedded database (core/secret_key.py says why);
with a shared database the settings give the key. `python -m assistant rotate-data-key` rotates either
(assistant/resealing.py).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Sequence
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from core.private_files import write_once
from core.secret_key import SECRET_FILE, key_in_folder, keyed_hash, new_secret, secret_key
from core.settings import Settings

KEY_FILE = "data_key"


class DataKeyError(Exception):
    """A key that is not a Fernet key, or data that none of the keys decrypts."""


def new_data_key() -> str:
    return Fernet.generate_key().decode()


def key_file(settings: Settings) -> Path:
    return settings.data_dir / KEY_FILE


def operator_keys(settings: Settings) -> list[str] | None:
    """The keys set in the settings (current first), or None when the installation manages its own."""
    if settings.data_key is None:
        return None
    previous = settings.data_keys_previous.get_secret_value() if settings.data_keys_previous else ""
    return [settings.data_key.get_secret_value(), *(k.strip() for k in previous.split(",") if k.strip())]


def data_keys(settings: Settings) -> list[str]:
    """The keys, the one that encrypts first: from the settings, or the data folder's key file (made once,
    beside the embedded database only: MissingKeyError otherwise)."""
    keys = operator_keys(settings)
    if keys is not None:
        return keys
    return read_key_file(key_in_folder(settings, KEY_FILE, new_data_key() + "\n", "ASSISTANT_DATA_KEY"))


def make_key_files(settings: Settings) -> None:
    """Makes the data folder's secret and data key files, whatever the database, unless the settings give the
    keys: for `python -m assistant run`, whose services all use this folder, PostgreSQL or not."""
    if settings.secret_key is None:
        write_once(settings.data_dir / SECRET_FILE, new_secret())
    if settings.data_key is None:
        write_once(key_file(settings), new_data_key() + "\n")


def read_key_file(path: Path) -> list[str]:
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]


def write_key_file(path: Path, keys: Sequence[str]) -> None:
    """Replaces the key file at once (a crash leaves the old or the new one, never half of one), 0600."""
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write("".join(f"{key}\n" for key in keys))
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


class Sealer:
    """Encrypts and decrypts stored values with the data keys; hashes chat ids with the installation's secret.

    Fernet tokens are URL-safe text, so sealed values live in ordinary text columns; each one carries its own
    random IV, so equal values do not look equal (lookups use the keyed hashes).

    With `key_file`, the keys follow that file: each use looks at it (a stat, about a microsecond) and reloads
    it once `rotate-data-key` replaced it, so running services encrypt with the new key at once."""

    def __init__(self, keys: Sequence[str], hash_secret: bytes, key_file: Path | None = None) -> None:
        self._fernet = self._load(keys)
        self._secret = hash_secret
        self._file = key_file
        self._seen: tuple[int, int] | None = None  # the first use reads the file again: it may have changed since

    @staticmethod
    def _load(keys: Sequence[str]) -> MultiFernet:
        if not keys:
            raise DataKeyError("no data key")
        try:
            # Standard base64 (`openssl rand -base64 32`) is taken as well as Fernet's URL-safe alphabet.
            return MultiFernet([Fernet(key.strip().replace("+", "-").replace("/", "_").encode()) for key in keys])
        except ValueError:
            raise DataKeyError(
                "a data key is not 32 bytes in base64 (`openssl rand -base64 32` makes one); "
                "see `python -m assistant rotate-data-key`"
            ) from None

    def _stamp(self) -> tuple[int, int] | None:
        if self._file is None:
            return None
        try:
            found = self._file.stat()
        except OSError:
            return None
        return found.st_ino, found.st_mtime_ns  # the file is replaced whole: a new inode each time

    def _keys(self) -> MultiFernet:
        stamp = self._stamp()
        if stamp is not None and stamp != self._seen and self._file is not None:
            self._fernet, self._seen = self._load(read_key_file(self._file)), stamp
        return self._fernet

    def seal(self, text: str) -> str:
        return self._keys().encrypt(text.encode()).decode()

    def open(self, token: str) -> str:
        try:
            return self._keys().decrypt(token.encode()).decode()
        except InvalidToken:
            raise DataKeyError("stored data that none of the data keys decrypts") from None

    def reseal(self, token: str) -> str:
        """The same value encrypted with the current key (whichever key it was encrypted with)."""
        try:
            return self._keys().rotate(token.encode()).decode()
        except InvalidToken:
            raise DataKeyError("stored data that none of the data keys decrypts") from None

    def seal_chat(self, chat_id: int) -> str:
        return self.seal(str(chat_id))

    def open_chat(self, token: str) -> int:
        return int(self.open(token))

    def chat_hash(self, chat_id: int) -> str:
        """The chat's pseudonym for lookups (the same as ratings use)."""
        return keyed_hash(self._secret, str(chat_id))


def sealer(settings: Settings) -> Sealer:
    keys = data_keys(settings)
    return Sealer(keys, secret_key(settings), None if operator_keys(settings) is not None else key_file(settings))
