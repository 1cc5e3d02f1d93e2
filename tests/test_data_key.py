"""The data key: where it comes from, how it is made once by racing processes, what a wrong key says."""

from __future__ import annotations

import base64
import stat
import threading

import pytest
from pydantic import SecretStr

from assistant.data_key import DataKeyError, Sealer, data_keys, key_file, new_data_key, sealer
from assistant.secret_key import keyed_hash, secret_key
from assistant.settings import Settings


def test_made_once_whole_and_private_however_many_race_for_it(tmp_path):
    settings = Settings(_env_file=None, data_dir=tmp_path / "var")
    start, found = threading.Barrier(8), []

    def make() -> None:
        start.wait()
        found.append(data_keys(settings))

    threads = [threading.Thread(target=make) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(found) == 8 and all(keys == found[0] and len(keys) == 1 for keys in found)
    assert stat.S_IMODE(key_file(settings).stat().st_mode) == 0o600
    assert stat.S_IMODE(key_file(settings).parent.stat().st_mode) == 0o700
    assert sorted(p.name for p in key_file(settings).parent.iterdir()) == ["data_key"], "no drafts left behind"


def test_operators_keys_come_first_and_no_file_is_made(tmp_path):
    current, old, older = new_data_key(), new_data_key(), new_data_key()
    settings = Settings(
        _env_file=None,
        data_dir=tmp_path,
        data_key=SecretStr(current),
        data_keys_previous=SecretStr(f"{old}, {older},"),
    )
    assert data_keys(settings) == [current, old, older]
    assert not key_file(settings).exists()
    sealed_with_old = Sealer([old], b"secret").seal("passport C01234567")
    assert sealer(settings).open(sealed_with_old) == "passport C01234567"


def test_sealed_values_do_not_repeat_and_a_wrong_key_says_so(tmp_path):
    settings = Settings(_env_file=None, data_dir=tmp_path)
    seal = sealer(settings)
    first, second = seal.seal("FIN 5ZK2L9B"), seal.seal("FIN 5ZK2L9B")
    assert first != second and seal.open(first) == seal.open(second) == "FIN 5ZK2L9B"
    assert seal.open_chat(seal.seal_chat(-1001234567890)) == -1001234567890
    # The chat's pseudonym is the one ratings already use: one chat, one hash across our tables.
    assert seal.chat_hash(42) == keyed_hash(secret_key(settings), "42")
    with pytest.raises(DataKeyError, match="none of the data keys"):
        Sealer([new_data_key()], b"secret").open(first)
    with pytest.raises(DataKeyError, match="not 32 bytes in base64"):
        Sealer(["correct horse battery staple"], b"secret")
    # What `openssl rand -base64 32` prints (the docs' and deploy/assistant.env.example's advice) is a key.
    openssl = base64.b64encode(bytes(range(250, 256)) + bytes(26)).decode()
    assert "/" in openssl and Sealer([openssl], b"secret").open(Sealer([openssl], b"secret").seal("x")) == "x"
