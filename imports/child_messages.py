"""The messages between the parsing child and its parent (``imports.isolation``).

The child pickles each message straight into the pipe (``Emitter`` sends a
ledger's parts as they are parsed, or holds them compressed while
calamine's copy of a sheet is alive); the parent unpickles from the stream
with an allow-list (``SafeUnpickler``: plain data and our own ``imports.*``
classes, never a function), may record the bytes as they pass (``Recorded``,
kept as the preview's parse) and later ``replay`` them for the commit.
"""

from __future__ import annotations

import io
import pickle
import zlib
from collections.abc import Callable
from typing import Any


class Recorded:
    """The child's stream for the unpickler, each byte read also handed to ``record``.

    No ``peek``: the unpickler then reads exactly each message's bytes (whole
    pickle frames), so what is recorded is the messages, nothing ahead.
    """

    def __init__(self, stream: Any, record: Callable[[bytes], None]) -> None:
        self.stream = stream
        self.record = record

    def read(self, n: int = -1) -> bytes:
        data = self.stream.read(n)
        self.record(data)
        return data

    def readline(self) -> bytes:
        data = self.stream.readline()
        self.record(data)
        return data

    def readinto(self, buffer: Any) -> int:
        n = self.stream.readinto(buffer)
        self.record(bytes(memoryview(buffer)[:n]))
        return n


def replay(stream: Any, on_part: Callable[[Any], None] | None = None) -> Any:
    """The result of a child's recorded messages (``run_isolated(record=…)``), parts to ``on_part``.

    Unpickled with the same allow-list as the live pipe.  Raises ValueError
    when the recording holds no result.
    """
    while True:
        try:
            message = SafeUnpickler(stream).load()
        except EOFError:
            raise ValueError("recorded messages end without a result") from None
        if message[0] == "part":
            if on_part is not None:
                on_part(message[1])
        elif message[0] == "ok":
            return message[1]
        elif message[0] != "progress":
            raise ValueError(f"recorded message {message[0]!r} is not a result")


class Emitter:
    """The child's ``emit(part)``: each part pickled into the pipe, or held until ``release``.

    A parse of a sheet larger than python-calamine can stream (it builds the
    whole sheet before the first row, its issue #42) ``hold``s its parts,
    compressed, while that copy of the sheet is alive, and ``release``s them
    once it is freed: the parent's rows and calamine's sheet are then never
    in memory at the same time (``imports.readers.ReadLimits.hold_rows``).
    """

    def __init__(self, out: Any) -> None:
        self.out = out
        self._held: list[bytes] | None = None
        self._zip: Any = None

    def __call__(self, part: Any) -> None:
        if self._held is None:
            pickle.dump(("part", part), self.out, protocol=pickle.HIGHEST_PROTOCOL)
            return
        data = pickle.dumps(("part", part), protocol=pickle.HIGHEST_PROTOCOL)
        self._held.append(self._zip.compress(data))

    def hold(self) -> None:
        if self._held is None:
            self._held = []
            self._zip = zlib.compressobj(1)

    def release(self) -> None:
        """Send the held parts (inflated a chunk at a time), and stop holding."""
        if self._held is None:
            return
        held, self._held = self._held, None
        held.append(self._zip.flush())
        unzip = zlib.decompressobj()
        while held:
            chunk = held.pop(0)
            while chunk:
                self.out.write(unzip.decompress(chunk, 1 << 20))
                chunk = unzip.unconsumed_tail
        self.out.write(unzip.flush())


SAFE_GLOBALS = {
    ("datetime", "date"),
    ("datetime", "datetime"),
    ("datetime", "time"),
    ("datetime", "timedelta"),
    ("decimal", "Decimal"),
    ("builtins", "set"),
    ("builtins", "frozenset"),
    ("builtins", "bytearray"),
    ("builtins", "complex"),
}


class SafeUnpickler(pickle.Unpickler):
    """Unpickle only plain data and our own ``imports.*`` classes (never a function)."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in SAFE_GLOBALS:
            return super().find_class(module, name)
        if (module == "imports" or module.startswith("imports.")) and "." not in name:
            found = super().find_class(module, name)
            if isinstance(found, type) and found.__module__ == module:
                return found
        raise pickle.UnpicklingError(f"子进程返回了不允许的对象 {module}.{name}")


def loads_checked(data: bytes) -> Any:
    """Unpickle with the allow-list the parent uses."""
    return SafeUnpickler(io.BytesIO(data)).load()
