"""SecretBox, key loading and key files."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

from tillwise.governance.secrets import (
    SecretBox,
    SecretDecryptionError,
    SecretKeyError,
    default_key_path,
    load_or_create_key,
)
from tillwise.settings import Settings

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture(autouse=True)
def _no_key_in_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TILLWISE_SECRET_KEY", raising=False)
    monkeypatch.delenv("TILLWISE_SECRET_KEY_FILE", raising=False)


def test_round_trip_and_ciphertext_hides_the_plaintext() -> None:
    box = SecretBox([SecretBox.generate_key()])
    token = box.encrypt("whsec_ünïcode-secret")
    assert isinstance(token, bytes)
    assert b"whsec" not in token
    assert box.decrypt(token) == "whsec_ünïcode-secret"
    assert box.encrypt("same") != box.encrypt("same")  # random IV
    assert repr(box) == "SecretBox(keys=1)"


def test_wrong_key_fails_clearly() -> None:
    token = SecretBox([SecretBox.generate_key()]).encrypt("s3cret-value")
    other = SecretBox([SecretBox.generate_key()])
    with pytest.raises(SecretDecryptionError, match="encrypted with a key that is not configured"):
        other.decrypt(token)
    with pytest.raises(SecretDecryptionError):
        other.decrypt(b"not a fernet token")


def test_rotation_old_keys_still_decrypt_and_rotate_moves_to_the_new_key() -> None:
    old, new = SecretBox.generate_key(), SecretBox.generate_key()
    stored = SecretBox([old]).encrypt("s3cret-value")

    rotating = SecretBox([new, old])
    assert rotating.decrypt(stored) == "s3cret-value"
    fresh = rotating.encrypt("another")
    assert SecretBox([new]).decrypt(fresh) == "another"  # the first key encrypts

    rotated = rotating.rotate(stored)
    assert SecretBox([new]).decrypt(rotated) == "s3cret-value"
    with pytest.raises(SecretDecryptionError):
        SecretBox([old]).decrypt(rotated)


@pytest.mark.parametrize(
    "bad", ["", "short", "x" * 44, "Zm9v", SecretBox.generate_key()[:-2], "é" * 44]
)
def test_malformed_key_is_refused_without_echoing_it(bad: str) -> None:
    with pytest.raises(SecretKeyError) as info:
        SecretBox([bad], source="TILLWISE_SECRET_KEY")
    assert "TILLWISE_SECRET_KEY" in str(info.value)
    if len(bad) > 3:
        assert bad not in str(info.value)


def test_environment_key_is_used_and_validated(tmp_path: Path) -> None:
    key, old = SecretBox.generate_key(), SecretBox.generate_key()
    box = load_or_create_key(settings(database_url=PG_URL, secret_key=f"{key}, {old}"))
    assert box.key_count == 2
    assert SecretBox([key]).decrypt(box.encrypt("v-12345")) == "v-12345"
    with pytest.raises(SecretKeyError, match="TILLWISE_SECRET_KEY is not a valid key"):
        load_or_create_key(settings(database_url=PG_URL, secret_key="not-a-key"))
    with pytest.raises(SecretKeyError, match="empty"):
        load_or_create_key(settings(database_url=PG_URL, secret_key=" , "))
    assert not list(tmp_path.iterdir())  # no key file made when the variable is set


def test_environment_variable_reaches_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    key = SecretBox.generate_key()
    monkeypatch.setenv("TILLWISE_SECRET_KEY", key)
    box = load_or_create_key(settings(database_url=PG_URL))
    assert SecretBox([key]).decrypt(box.encrypt("v-12345")) == "v-12345"


def test_key_file_is_created_0600_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "tillwise.key"
    s = settings(database_url=f"sqlite:///{tmp_path / 'x.db'}", secret_key_file=path)

    first = load_or_create_key(s)

    assert path.exists()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["tillwise.key"]  # no temp left
    second = load_or_create_key(s)
    assert second.decrypt(first.encrypt("kept-123")) == "kept-123"


def test_key_file_is_0600_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        load_or_create_key(settings(secret_key_file=tmp_path / "k.key"))
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "k.key").stat().st_mode) == 0o600


def test_default_key_file_sits_beside_the_sqlite_database(tmp_path: Path) -> None:
    db = tmp_path / "shop.db"
    box = load_or_create_key(settings(database_url=f"sqlite:///{db}"))
    assert (tmp_path / "shop.key").exists()
    assert stat.S_IMODE((tmp_path / "shop.key").stat().st_mode) == 0o600
    assert (
        SecretBox((tmp_path / "shop.key").read_text().split()).decrypt(box.encrypt("v-12345"))
        == "v-12345"
    )
    assert default_key_path(f"sqlite:///{db}") == tmp_path / "shop.key"
    assert default_key_path("sqlite://") == Path.cwd() / "tillwise.key"
    assert default_key_path(PG_URL) is None


def test_postgres_without_a_configured_key_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SecretKeyError, match="TILLWISE_SECRET_KEY_FILE"):
        load_or_create_key(settings(database_url=PG_URL))
    # a configured key file path is created (the operator chose where the key lives)
    box = load_or_create_key(settings(database_url=PG_URL, secret_key_file=tmp_path / "pg.key"))
    assert box.key_count == 1 and (tmp_path / "pg.key").exists()


def test_malformed_or_empty_key_file_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.key"
    bad.write_text("definitely-not-a-key\n")
    with pytest.raises(SecretKeyError, match=f"key file {bad}"):
        load_or_create_key(settings(secret_key_file=bad))
    empty = tmp_path / "empty.key"
    empty.write_text("\n# only a comment\n")
    with pytest.raises(SecretKeyError, match="empty"):
        load_or_create_key(settings(secret_key_file=empty))
    assert bad.read_text() == "definitely-not-a-key\n"  # never overwritten


def test_key_file_with_several_keys_rotates(tmp_path: Path) -> None:
    new, old = SecretBox.generate_key(), SecretBox.generate_key()
    path = tmp_path / "k.key"
    path.write_text(f"# newest first\n{new}\n{old}\n")
    path.chmod(0o600)
    box = load_or_create_key(settings(secret_key_file=path))
    assert box.key_count == 2
    assert box.decrypt(SecretBox([old]).encrypt("legacy-1")) == "legacy-1"


def test_concurrent_first_start_agrees_on_one_key(tmp_path: Path) -> None:
    path = tmp_path / "race.key"
    barrier = threading.Barrier(8)
    boxes: list[SecretBox] = []
    lock = threading.Lock()

    def start() -> None:
        barrier.wait()
        box = load_or_create_key(settings(secret_key_file=path))
        with lock:
            boxes.append(box)

    threads = [threading.Thread(target=start) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    token = boxes[0].encrypt("agreed-1")
    assert len(boxes) == 8 and all(b.decrypt(token) == "agreed-1" for b in boxes)
    assert len(path.read_text().split()) == 1
    assert [p.name for p in tmp_path.iterdir()] == ["race.key"]
