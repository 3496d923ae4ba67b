"""The ISA-L read of a zip member gives what ``ZipFile.open`` gives, errors included."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib

import pytest

from imports.zip_members import read_member

XML = b"".join(b'<row r="%d"><c r="A%d"><v>%d</v></c></row>' % (i, i, i) for i in range(1, 60_000))


def _zip(members: dict[str, tuple[bytes, int]]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, (content, method) in members.items():
            zf.writestr(name, content, compress_type=method)
    return buf.getvalue()


def _read_all(fh: io.BufferedIOBase) -> tuple[bytes, int]:
    parts = []
    while chunk := fh.read(1 << 16):
        parts.append(chunk)
    return b"".join(parts), len(parts)


@pytest.mark.parametrize("method", [zipfile.ZIP_DEFLATED, zipfile.ZIP_STORED])
def test_member_reads_as_zipfile_reads_it(method: int) -> None:
    data = _zip({"a.xml": (b"<x/>", method), "xl/worksheets/sheet1.xml": (XML, method)})
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        got, reads = read_member(data, zf, "xl/worksheets/sheet1.xml", _read_all)
        assert got == XML
        assert reads > 1  # streamed in pieces, not read whole
        assert read_member(data, zf, "a.xml", _read_all)[0] == b"<x/>"
        with pytest.raises(KeyError):
            read_member(data, zf, "missing.xml", _read_all)


def _crc_offset(data: bytes, name: str) -> int:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        info = zf.getinfo(name)
    return info.header_offset + 14  # CRC-32 in the local header


def test_bad_crc_is_judged_by_zipfile() -> None:
    """A member whose bytes fail their CRC: the fast path steps back, zipfile refuses it."""
    data = bytearray(_zip({"s.xml": (XML, zipfile.ZIP_DEFLATED)}))
    # Change the CRC in the central directory (the one both readers trust).
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as zf:
        crc = zf.getinfo("s.xml").CRC
    packed = struct.pack("<L", crc)
    at = bytes(data).rfind(packed)
    data[at : at + 4] = struct.pack("<L", crc ^ 1)
    data = bytes(data)
    seen: list[int] = []

    def reader(fh: io.BufferedIOBase) -> bytes:
        seen.append(1)
        return _read_all(fh)[0]

    with zipfile.ZipFile(io.BytesIO(data)) as zf, pytest.raises(zipfile.BadZipFile):
        read_member(data, zf, "s.xml", reader)
    assert len(seen) == 2  # the fast stream, then zipfile's


def test_stream_longer_than_declared_is_judged_by_zipfile() -> None:
    """The declared size (what the zip-bomb check judged) bounds what is inflated."""
    data = bytearray(_zip({"s.xml": (XML, zipfile.ZIP_DEFLATED)}))
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as zf:
        size = zf.getinfo("s.xml").file_size
    packed = struct.pack("<L", size)
    # Both copies (local header and central directory) claim 100 bytes.
    start = 0
    while (at := bytes(data).find(packed, start)) >= 0:
        data[at : at + 4] = struct.pack("<L", 100)
        start = at + 4
    data = bytes(data)
    lengths: list[int] = []

    def reader(fh: io.BufferedIOBase) -> None:
        lengths.append(0)
        while chunk := fh.read(7):
            lengths[-1] += len(chunk)

    with zipfile.ZipFile(io.BytesIO(data)) as zf, pytest.raises(zipfile.BadZipFile):
        read_member(data, zf, "s.xml", reader)
    # The fast stream gave the first 98 of the 100 declared bytes, then refused at the
    # end of the declared size (its CRC); zipfile refused in its first read.
    assert lengths == [98, 0]


def test_corrupt_deflate_is_judged_by_zipfile() -> None:
    data = bytearray(_zip({"s.xml": (XML, zipfile.ZIP_DEFLATED)}))
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as zf:
        info = zf.getinfo("s.xml")
    start = info.header_offset + 30 + len(b"s.xml")
    data[start : start + 8] = b"\xff" * 8
    data = bytes(data)
    with zipfile.ZipFile(io.BytesIO(data)) as zf, pytest.raises((zlib.error, zipfile.BadZipFile)):
        read_member(data, zf, "s.xml", _read_all)
