"""Personal data at rest: AES-GCM with a key kept outside the database.

ID numbers and phone numbers (in households and in the before/after JSON of
their history versions), the rows refused under "accept valid rows" and the
stored original files are written encrypted; the salted hash of an ID number
stays in clear for matching.  A copy of the database alone (a backup, a
stolen disk, a dump handed to a contractor) holds no ID number.

The key file (``encryption_key_file``) is JSON: ``{"current": id, "keys":
{id: base64 key}}``; ``heating init`` creates it where none exists and ``heating
keys rotate`` adds a key, makes it current and re-encrypts everything with it.
Older keys stay in the file so older backups can still be read.

Text is sealed as ``enc1:<key id>:<base64 of nonce | ciphertext | tag>``;
files as ``HEATENC1`` + key id + nonce + ciphertext.  A value without the
prefix is read as it is (rows written before encryption was switched on),
and sealing a sealed value leaves it alone, so a value read back and written
again is never encrypted twice.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import secrets
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import JSON, LargeBinary, String
from sqlalchemy.types import TypeDecorator

TEXT_PREFIX = "enc1:"
FILE_MAGIC = b"HEATENC1"
KEY_ID_LENGTH = 8
NONCE_LENGTH = 12

# Household fields that are personal data (the hash of the ID number is not).
SEALED_FIELDS = ("id_number", "phone")


class KeyFileError(Exception):
    """The key file is missing, unreadable or lacks a key a value was sealed with (Chinese)."""


@dataclass
class Keyring:
    """The installation's keys: the current one seals, any of them opens."""

    path: Path
    current: str
    keys: dict[str, bytes] = field(default_factory=dict)
    _ciphers: dict[str, AESGCM] = field(default_factory=dict, repr=False)

    # ---------------------------------------------------------------- files
    @classmethod
    def load(cls, path: str | Path) -> Keyring:
        path = Path(path)
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            keys = {str(k): base64.b64decode(v) for k, v in raw["keys"].items()}
            current = str(raw["current"])
        except FileNotFoundError:
            raise KeyFileError(
                f"找不到加密密钥文件 {path}。请运行 heating init 创建，"
                "或把 encryption_key_file 指向已有的密钥文件（从备份恢复时需要原来的密钥文件）。"
            ) from None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise KeyFileError(f"加密密钥文件 {path} 无法读取或格式不对：{exc}") from None
        if current not in keys or any(len(k) != 32 for k in keys.values()):
            raise KeyFileError(
                f"加密密钥文件 {path} 格式不对：应含当前密钥和 32 字节的 AES-256 密钥。"
            )
        return cls(path, current, keys)

    @classmethod
    def create(cls, path: str | Path) -> Keyring:
        """Write a new key file (mode 0600) with one key; refuse to overwrite one."""
        path = Path(path)
        if path.exists():
            raise KeyFileError(f"密钥文件 {path} 已存在，未覆盖。")
        ring = cls(path, "", {})
        ring._add_key()
        ring.save()
        return ring

    def save(self) -> None:
        """Write the key file atomically, readable by its owner only."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = {
            "current": self.current,
            "keys": {k: base64.b64encode(v).decode() for k, v in self.keys.items()},
        }
        temp = self.path.with_name(self.path.name + ".new")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=1)
        os.replace(temp, self.path)

    def _add_key(self) -> str:
        key_id = secrets.token_hex(KEY_ID_LENGTH // 2)
        self.keys[key_id] = AESGCM.generate_key(bit_length=256)
        self.current = key_id
        return key_id

    def rotated(self) -> Keyring:
        """A copy with a new current key (older keys kept for reading)."""
        ring = Keyring(self.path, self.current, dict(self.keys))
        ring._add_key()
        return ring

    def _cipher(self, key_id: str) -> AESGCM:
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            key = self.keys.get(key_id)
            if key is None:
                raise KeyFileError(
                    f"数据用密钥 {key_id} 加密，但密钥文件 {self.path} 中没有这个密钥。"
                    "请使用加密时的密钥文件（heating keys rotate 会保留旧密钥）。"
                )
            cipher = self._ciphers[key_id] = AESGCM(key)
        return cipher

    # ---------------------------------------------------------------- text
    def seal_text(self, text: str) -> str:
        if text.startswith(TEXT_PREFIX):
            return text
        nonce = os.urandom(NONCE_LENGTH)
        sealed = self._cipher(self.current).encrypt(nonce, text.encode(), None)
        return f"{TEXT_PREFIX}{self.current}:{base64.b64encode(nonce + sealed).decode()}"

    def text_sealer(self) -> Callable[[str], str]:
        """``seal_text`` for many values in a row: the cipher and prefix looked up once.

        Each value still gets a nonce of its own; they are read from the system's
        random source a block at a time instead of by one call each.  Written for
        bulk writes (100k new households seal 200k values).
        """
        encrypt = self._cipher(self.current).encrypt
        prefix = f"{TEXT_PREFIX}{self.current}:"
        next_nonce = _nonces().__next__

        def seal(text: str) -> str:
            if text.startswith(TEXT_PREFIX):
                return text
            nonce = next_nonce()
            body = nonce + encrypt(nonce, text.encode(), None)
            return prefix + binascii.b2a_base64(body, newline=False).decode()

        return seal

    def open_text(self, text: str) -> str:
        if not text.startswith(TEXT_PREFIX):
            return text
        key_id, _, body = text[len(TEXT_PREFIX) :].partition(":")
        raw = base64.b64decode(body)
        try:
            plain = self._cipher(key_id).decrypt(raw[:NONCE_LENGTH], raw[NONCE_LENGTH:], None)
        except InvalidTag:
            raise KeyFileError(
                f"密钥 {key_id} 无法解密一项数据：密钥文件与数据库不匹配？"
            ) from None
        return plain.decode()

    # ---------------------------------------------------------------- files
    def seal_bytes(self, data: bytes) -> bytes:
        if data.startswith(FILE_MAGIC):
            return data
        nonce = os.urandom(NONCE_LENGTH)
        sealed = self._cipher(self.current).encrypt(nonce, data, None)
        return FILE_MAGIC + self.current.encode() + nonce + sealed

    def open_bytes(self, data: bytes) -> bytes:
        if not data.startswith(FILE_MAGIC):
            return data
        start = len(FILE_MAGIC)
        key_id = data[start : start + KEY_ID_LENGTH].decode()
        nonce = data[start + KEY_ID_LENGTH : start + KEY_ID_LENGTH + NONCE_LENGTH]
        try:
            return self._cipher(key_id).decrypt(
                nonce, data[start + KEY_ID_LENGTH + NONCE_LENGTH :], None
            )
        except InvalidTag:
            raise KeyFileError(
                f"密钥 {key_id} 无法解密一个保存的文件：密钥文件与数据库不匹配？"
            ) from None

    # ---------------------------------------------------------------- records
    def seal_fields(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """A copy of a household snapshot with its personal fields sealed."""
        out = dict(record)
        for name in SEALED_FIELDS:
            value = out.get(name)
            if isinstance(value, str) and value:
                out[name] = self.seal_text(value)
        return out

    def open_fields(self, record: dict[str, Any]) -> dict[str, Any]:
        """Open a snapshot's personal fields in place; return it."""
        for name in SEALED_FIELDS:
            value = record.get(name)
            if isinstance(value, str) and value.startswith(TEXT_PREFIX):
                record[name] = self.open_text(value)
        return record


def _nonces(per_read: int = 4096) -> Iterator[bytes]:
    """Fresh random nonces, never one twice: ``per_read`` of them per read of ``os.urandom``."""
    while True:
        block = os.urandom(NONCE_LENGTH * per_read)
        for start in range(0, len(block), NONCE_LENGTH):
            yield block[start : start + NONCE_LENGTH]


def seal_record(record: Mapping[str, Any]) -> Mapping[str, Any]:
    """``record`` with its personal fields sealed by the active key (as it is when it has none)."""
    if any(isinstance(record.get(name), str) and record.get(name) for name in SEALED_FIELDS):
        return active().seal_fields(record)
    return record


# The keyring of this process, set when a runtime opens (heating.runtime.open_runtime).
_ACTIVE: Keyring | None = None


def activate(ring: Keyring | None) -> None:
    global _ACTIVE
    _ACTIVE = ring


def active() -> Keyring:
    if _ACTIVE is None:
        raise KeyFileError("没有加载加密密钥：个人信息不能写入数据库。请检查 encryption_key_file。")
    return _ACTIVE


def active_or_none() -> Keyring | None:
    return _ACTIVE


def require_key(config: Any) -> None:
    """Refuse to serve without the key file: uploads could not be stored."""
    path = Path(config.encryption_key_file)
    if not path.exists():
        raise KeyFileError(
            f"找不到加密密钥文件 {path}：请先运行 heating init（会创建它），"
            "或把 encryption_key_file 指向已有的密钥文件。"
        )


# --------------------------------------------------------------------------
# Column types: sealed on the way in, opened on the way out
# --------------------------------------------------------------------------


class SealedText(TypeDecorator):
    """A text column holding personal data (ID number, phone), stored encrypted."""

    impl = String
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> Any:
        if value is None or value == "":
            return value
        return active().seal_text(str(value))

    def process_result_value(self, value: Any, dialect: Any) -> Any:
        if isinstance(value, str) and value.startswith(TEXT_PREFIX):
            return active().open_text(value)
        return value


class SealedBytes(TypeDecorator):
    """A stored file, encrypted whole."""

    impl = LargeBinary
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> Any:
        if not value:
            return value
        return active().seal_bytes(bytes(value))

    def process_result_value(self, value: Any, dialect: Any) -> Any:
        if value is not None and bytes(value[: len(FILE_MAGIC)]) == FILE_MAGIC:
            return active().open_bytes(bytes(value))
        return value


class SealedDocument(TypeDecorator):
    """A JSON document (rows refused with their raw values) stored as one sealed string."""

    impl = JSON
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> Any:
        if value is None:
            return None
        return active().seal_text(json.dumps(value, ensure_ascii=False))

    def process_result_value(self, value: Any, dialect: Any) -> Any:
        if isinstance(value, str) and value.startswith(TEXT_PREFIX):
            return json.loads(active().open_text(value))
        return value


class SealedSnapshot(TypeDecorator):
    """A version's before/after JSON whose ID number and phone are sealed.

    The history writer hands over JSON already dumped by ``dump_snapshot``
    (sealed there, once per value); dicts given directly are sealed here.
    """

    impl = JSON
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> Any:
        if isinstance(value, Mapping):
            return active().seal_fields(value)
        return value

    def process_result_value(self, value: Any, dialect: Any) -> Any:
        if isinstance(value, dict):
            for name in SEALED_FIELDS:
                field_value = value.get(name)
                if isinstance(field_value, str) and field_value.startswith(TEXT_PREFIX):
                    value[name] = active().open_text(field_value)
        return value
