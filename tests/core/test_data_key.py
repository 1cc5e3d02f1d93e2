"""The data key: where it comes from, how it is made once by racing processes, what a wrong key says."""

from __future__ import annotations

import base64
import stat
import threading

import pytest
from pydantic import SecretStr

from assistant.resealing import rotate
from core.data_key import DataKeyError, Sealer, data_keys, key_file, make_key_files, new_data_key, sealer
from core.secret_key import MissingKeyError, keyed_hash, secret_key
from core.settings import Settings


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


SHARED = "postgresql+asyncpg://assistant@db.example:5432/assistant"  # never connected to: keys come first


@pytest.mark.parametrize(
    "database_url", [SHARED, "sqlite+aiosqlite:///{elsewhere}/assistant.db"], ids=["postgresql", "sqlite-elsewhere"]
)
def test_no_key_is_made_for_a_database_that_is_not_the_data_folders_own(tmp_path, database_url):
    """An operator's host (`python -m console create-user`, `python -m knowledge`) against the shared database:
    keys made there would be that host's alone, and a migration would encrypt everything with one."""
    settings = Settings(
        _env_file=None, data_dir=tmp_path / "var", database_url=database_url.format(elsewhere=tmp_path / "other")
    )
    with pytest.raises(MissingKeyError, match="ASSISTANT_DATA_KEY must be set"):
        data_keys(settings)
    with pytest.raises(MissingKeyError, match="ASSISTANT_SECRET_KEY must be set"):
        secret_key(settings)
    with pytest.raises(MissingKeyError):
        sealer(settings)
    assert not (tmp_path / "var").exists() or not list((tmp_path / "var").iterdir()), "no key file made"

    given = settings.model_copy(update={"data_key": SecretStr(new_data_key()), "secret_key": SecretStr("s" * 40)})
    assert sealer(given).open(sealer(given).seal("x")) == "x"
    # `python -m assistant run` makes the files for the services it starts; they are then read, not made.
    make_key_files(settings)
    assert sealer(settings).open(Sealer(data_keys(settings), b"-").seal("x")) == "x"


def test_an_sqlite_file_inside_the_data_folder_is_its_own(tmp_path):
    settings = Settings(_env_file=None, data_dir=tmp_path, database_url=f"sqlite+aiosqlite:///{tmp_path}/my.db")
    assert len(data_keys(settings)) == 1 and secret_key(settings)


async def test_rotating_against_a_shared_database_without_its_key_changes_nothing(tmp_path):
    settings = Settings(_env_file=None, data_dir=tmp_path, database_url=SHARED)
    said: list[str] = []
    assert await rotate(settings, said.append, grace_s=0) == 1
    assert "ASSISTANT_" in said[0] and "must be set" in said[0] and not list(tmp_path.iterdir())


async def test_run_makes_the_key_files_before_its_first_migration(tmp_path, monkeypatch):
    """`python -m assistant run` with PostgreSQL: its services share this data folder, so it makes the keys, and
    before it first opens the database (the migration may encrypt an older version's rows with them)."""
    import assistant.__main__ as main

    async def first_opening(settings: Settings) -> None:  # what `_model` does first: migrate, needing the keys
        data_keys(settings)
        secret_key(settings)
        raise RuntimeError("stopped after the migration")

    monkeypatch.setattr(main, "_model", first_opening)
    with pytest.raises(RuntimeError, match="stopped after the migration"):
        await main._serve(Settings(_env_file=None, data_dir=tmp_path, database_url=SHARED), chat=False, stacks=[])
