"""Read a spreadsheet's bytes into plain rows, refusing what we must not read.

The type is recognised from the content, never the extension
(``imports.file_kinds``).  Limits (size, rows, uncompressed size, and each
sheet's declared extent from ``imports.dimensions``) are checked before the
expensive read, so a zip bomb, a million-row file or a sheet that declares a billion cells
never gets into memory.  Callers run this in a child process
(``imports.isolation``) as well, for whatever the checks cannot foresee.
"""

from __future__ import annotations

import io
import struct
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any
from xml.sax import SAXException

import defusedxml  # noqa: F401 - makes openpyxl parse XML safely wherever it is used
from defusedxml import ElementTree as SafeET
from python_calamine import CalamineWorkbook

from imports import dimensions_ods, dimensions_xls, dimensions_xlsx, streaming_xlsx
from imports.csv_reading import read_csv
from imports.dimensions import SheetExtent, check_extent
from imports.dimensions_xlsx import XlsxScan
from imports.file_kinds import MB, corrupt, detect_kind, encrypted
from imports.formula_gaps import formulas_without_value
from imports.issues import LedgerRejected
from imports.raw_sheet import HEAD_ROWS, ROW_HEADROOM, RawSheet, padded, too_many_rows
from imports.zip_members import DAMAGED, read_member


@dataclass(frozen=True)
class ReadLimits:
    """The configured limits of a read (``upload_max_mb``, ``import_max_rows``, …)."""

    max_mb: int
    max_rows: int
    max_unzipped_mb: int
    max_issues: int | None = None  # row issues listed in an outcome (``import_max_issues``)
    # A sheet of more rows read by calamine (.xls/.ods; .xlsx cells without references) is
    # parsed with its rows held back in the child until calamine's copy of the sheet is
    # freed (``imports.child_messages.Emitter``); a streamed sheet holds nothing back.
    hold_rows: int = 200_000
    # An .xlsx sheet of more rows is read by the streaming reader, not calamine (``stream_choice``).
    stream_rows: int = streaming_xlsx.STREAM_ROWS
    # Trust the first visible .xlsx sheet's declared size (``dimensions_xlsx.declared_xlsx_sheet``)
    # instead of judging every cell reference first; only for a caller that reads again with
    # False when the child dies (``imports.pipeline.parse_ledger``).
    trust_declared: bool = False

    @classmethod
    def from_config(cls, config: Any) -> ReadLimits:
        return cls(
            config.upload_max_mb,
            config.import_max_rows,
            config.import_max_unzipped_mb,
            config.import_max_issues,
        )


@dataclass
class Workbook:
    kind: str  # xlsx / xlsm / xls / ods / csv
    # Loaded one at a time as iterated: a sheet is read when the previous one is done.
    sheets: Iterable[RawSheet]


def read_workbook(data: bytes, file_name: str, limits: ReadLimits) -> Workbook:
    """Detect the type, check the limits, read every sheet; raise LedgerRejected on refusal."""
    max_mb, max_rows = limits.max_mb, limits.max_rows
    # (strip() of the whole file would copy it: look at the start first.)
    if not data or (not data[:4096].strip() and not data.strip()):
        raise LedgerRejected(
            f"文件“{file_name}”是空的（0 字节或只有空白）。请确认选择了正确的台账文件。",
            code="file_empty",
        )
    if len(data) > max_mb * MB:
        raise LedgerRejected(
            f"文件“{file_name}”大小 {len(data) / MB:.1f} MB，超过上限 {max_mb} MB。"
            "请删除无关的工作表、图片后再上传，或按乡镇/村拆分成多个文件。",
            code="file_too_large",
        )
    kind = detect_kind(data, file_name, max_unzipped_mb=limits.max_unzipped_mb)
    if kind == "csv":
        return Workbook("csv", [read_csv(data, file_name, max_rows)])
    return _read_calamine(
        data, file_name, kind, max_rows, limits.stream_rows, limits.trust_declared
    )


# --------------------------------------------------------------------------
# Spreadsheets (python-calamine)
# --------------------------------------------------------------------------


def _sheet_rows(sheet: Any) -> tuple[list[list[Any]], Iterator[list[Any]]]:
    """The first HEAD_ROWS rows and an iterator over the rest, streamed from calamine.

    ``CalamineSheet.iter_rows`` starts at spreadsheet row 1 but at the first
    used column: pad on the left so that index 0 is always column A.
    """
    width = sheet.end[1] + 1 if sheet.end else 0
    left = sheet.start[1] if sheet.start else 0
    # Calamine's rows all have the range's width: only a left margin needs padding.
    rows = padded(iter(sheet.iter_rows()), left, width) if left else iter(sheet.iter_rows())
    head = []
    for row in rows:
        head.append(row)
        if len(head) >= HEAD_ROWS:
            break
    return head, rows


def _read_calamine(
    data: bytes,
    file_name: str,
    kind: str,
    max_rows: int,
    stream_rows: int,
    trust_declared: bool = False,
) -> Workbook:
    gaps: dict[str, set[tuple[int, int]]] = {}
    scans: dict[str, tuple[str, XlsxScan]] = {}
    recheck: dict[str, Callable[[], SheetExtent]] = {}
    if kind in ("xlsx", "xlsm"):
        # calamine builds an xlsx sheet's grid when the sheet is loaded: checked then.
        extents, gaps, scans, recheck = _xlsx_extents(
            data, file_name, stream_rows if trust_declared else 0
        )
    else:
        # calamine builds every .ods/.xls sheet, hidden ones too, when it opens the file.
        extents = _ods_extents(data, file_name) if kind == "ods" else _xls_extents(data)
        for extent in extents.values():
            check_extent(extent() if callable(extent) else extent, file_name)
    try:
        wb = CalamineWorkbook.from_filelike(io.BytesIO(data))
        metadata = list(wb.sheets_metadata)
    except Exception as exc:  # calamine raises its own error types per format
        raise _calamine_error(exc, file_name) from None
    # Sheets above ``stream_rows`` are streamed from their XML (decided per sheet, exactly
    # when it is about to be read).
    streamer = _Streamer(data, scans, file_name, stream_rows) if scans else None
    book = _CalamineBook(data, wb, file_name)
    return Workbook(
        kind,
        _calamine_sheets(book, metadata, gaps, extents, file_name, max_rows, streamer, recheck),
    )


class _CalamineBook:
    """calamine's workbook, closed while a sheet is streamed and opened again if needed.

    An open xlsx workbook holds calamine's copy of the shared strings (≈ 24 MB
    per 100k rows as Excel saves them, ≈ 240 MB at 1M): a streamed sheet
    does not need it, so it is freed before the streaming starts.  A later
    sheet read by calamine opens the file again (it reads the strings again).
    """

    def __init__(self, data: bytes, wb: Any, file_name: str) -> None:
        self.data = data
        self.wb: Any = wb
        self.file_name = file_name

    def sheet(self, index: int) -> Any:
        if self.wb is None:
            try:
                self.wb = CalamineWorkbook.from_filelike(io.BytesIO(self.data))
            except Exception as exc:  # calamine raises its own error types per format
                raise _calamine_error(exc, self.file_name) from None
        return self.wb.get_sheet_by_index(index)

    def close(self) -> None:
        """Free calamine's copy of the file (a sheet already taken keeps its range)."""
        if self.wb is not None:
            self.wb.close()
            self.wb = None

    def free(self) -> None:
        """Close, and give what calamine freed back to the system before a long stream."""
        if self.wb is not None:
            self.close()
            from imports.isolation import release_freed_memory

            release_freed_memory()


class _Streamer:
    """Reads the sheets above ``STREAM_ROWS`` rows from their XML (``imports.streaming_xlsx``).

    The shared strings and styles are read on first use, once per file.
    """

    def __init__(
        self, data: bytes, scans: dict[str, tuple[str, XlsxScan]], file_name: str, threshold: int
    ) -> None:
        self.data = data
        self.scans = scans
        self.file_name = file_name
        self.threshold = threshold
        self.book: streaming_xlsx.XlsxBook | None = None

    def sheet(self, name: str, extent: SheetExtent) -> RawSheet | None:
        """The sheet, streamed; None when it is not one to stream (calamine reads it)."""
        found = self.scans.get(name)
        if found is None or not stream_choice(extent, found[1], self.threshold):
            return None
        path, scan = found
        zf = zipfile.ZipFile(io.BytesIO(self.data))
        try:
            if self.book is None:
                self.book = streaming_xlsx.open_book(zf)
            rows = streaming_xlsx.stream_rows(
                zf,
                path,
                self.book,
                width=extent.columns,
                prefix=scan.prefix.rstrip(":") + ":" if scan.prefix else "",
                file_name=self.file_name,
            )
            head: list[list[Any]] = []
            for row in rows:
                head.append(row)
                if len(head) >= HEAD_ROWS:
                    break
        except (*DAMAGED, KeyError, OSError, ValueError, SafeET.ParseError) as exc:
            raise corrupt(self.file_name) from exc
        return RawSheet(
            name,
            True,
            head,
            extent.rows,
            list(scan.merged),
            set(),
            _closing(rows, zf, self.file_name),
            streamed=True,
        )


def _closing(rows: Iterator[list[Any]], zf: zipfile.ZipFile, file_name: str) -> Iterator[list[Any]]:
    """The rest of a streamed sheet's rows; the zip closes when they are read."""
    try:
        yield from rows
    except (*DAMAGED, OSError, ValueError) as exc:
        raise corrupt(file_name) from exc
    finally:
        zf.close()


Extent = SheetExtent | Callable[[], SheetExtent]


def _calamine_sheets(
    wb: _CalamineBook,
    metadata: list[Any],
    formula_gaps: dict[str, set[tuple[int, int]]],
    extents: dict[str, Extent],
    file_name: str,
    max_rows: int,
    streamer: _Streamer | None = None,
    recheck: dict[str, Callable[[], SheetExtent]] | None = None,
) -> Iterator[RawSheet]:
    """Each worksheet in turn; calamine's copy of a sheet lives while its rows are read.

    A sheet's declared extent is checked just before calamine builds its
    grid (``extents`` holds a measured extent, or a function that measures
    it exactly when the cheap pass was inconclusive).  A sheet whose extent
    is only its declaration (``recheck``: the full measure) is measured after
    all when calamine's sheet reaches beyond it, and refused as before.
    """
    total = 0
    worksheets = [
        (index, meta, str(meta.visible).endswith("Visible") and "Hidden" not in str(meta.visible))
        for index, meta in enumerate(metadata)
        if "WorkSheet" in str(meta.typ)
    ]
    last = max((index for index, _, visible in worksheets if visible), default=-1)
    for index, meta, visible in worksheets:
        if not visible:
            yield RawSheet(meta.name, False)
            continue
        extent = extents.get(meta.name)
        if callable(extent):
            extent = extent()
        if extent is not None:
            check_extent(extent, file_name)
        if streamer is not None and extent is not None:
            streamed = streamer.sheet(meta.name, extent)
            if streamed is not None:
                wb.free()
                total += streamed.height
                if total > max_rows + ROW_HEADROOM:
                    raise too_many_rows(file_name, total, max_rows)
                streamed.formulas_without_value = formula_gaps.get(meta.name, set())
                yield streamed
                continue
        try:
            sheet = wb.sheet(index)
            if recheck and meta.name in recheck and extent is not None and _beyond(sheet, extent):
                check_extent(recheck[meta.name](), file_name)
            if index == last:
                wb.close()  # frees calamine's copy of the file; the sheet's range stays
            height = sheet.end[0] + 1 if sheet.height and sheet.end else 0
            total += height
            if total > max_rows + ROW_HEADROOM:
                raise too_many_rows(file_name, total, max_rows)
            head, rest = _sheet_rows(sheet) if height else ([], iter(()))
            merged = sheet.merged_cell_ranges
        except LedgerRejected:
            raise
        except Exception as exc:
            raise _calamine_error(exc, file_name) from None
        raw = RawSheet(
            meta.name,
            True,
            head,
            height,
            list(merged) if merged is not None else None,
            formula_gaps.get(meta.name, set()),
            rest,
        )
        # Only the RawSheet's iterator keeps calamine's range alive: once its rows are
        # read, the range is freed (not when this generator moves on to the next sheet).
        del sheet, head, rest
        yield raw


def _beyond(sheet: Any, extent: SheetExtent) -> bool:
    """Whether calamine's sheet reaches past ``extent`` (its last cell, counted from A1)."""
    end = sheet.end
    return bool(end) and (end[0] + 1 > extent.rows or end[1] + 1 > extent.columns)


def _ods_extents(data: bytes, file_name: str) -> dict[str, Extent]:
    """Each table's extent from content.xml; none when it cannot be read (calamine will say).

    A content.xml that does not inflate (``DAMAGED``) is refused here as a damaged file.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf, zf.open("content.xml") as fh:
            return {e.sheet: e for e in dimensions_ods.scan_ods(fh)}
    except DAMAGED as exc:
        raise corrupt(file_name) from exc
    except (KeyError, OSError, ValueError, SafeET.ParseError, SAXException):
        return {}


def _xls_extents(data: bytes) -> dict[str, Extent]:
    """Each worksheet's extent from its BIFF cell records; none when the stream is unreadable."""
    try:
        return {e.sheet: e for e, _visible in dimensions_xls.scan_xls(data)}
    except (OSError, ValueError, struct.error, IndexError):
        return {}


def _calamine_error(exc: Exception, file_name: str) -> LedgerRejected:
    text = str(exc).lower()
    if "password" in text or "encrypt" in text:
        return encrypted(file_name)
    return corrupt(file_name)


def _xlsx_extents(
    data: bytes, file_name: str, trust_rows: int = 0
) -> tuple[
    dict[str, Extent],
    dict[str, set[tuple[int, int]]],
    dict[str, tuple[str, XlsxScan]],
    dict[str, Callable[[], SheetExtent]],
]:
    """Per sheet name: its extent (``imports.dimensions``), its formulas without a value, its
    (path, scan) for the streaming reader (``stream_choice``), and for a sheet measured by its
    declaration only, the full measure (``_calamine_sheets`` runs it if calamine's sheet
    reaches further).

    With ``trust_rows``, the first visible sheet's declared size stands in for the full
    measure when it declares at most that many rows and nothing about it is doubtful
    (``dimensions_xlsx.declared_xlsx_sheet``): the pass over its XML then skips reading
    every cell reference (≈ 0.2 s of CPU per 100k rows).

    One streamed pass over each worksheet's XML measures how far its cells
    reach and notes whether it has formulas; only sheets with formulas are
    read again to place the ones saved without a cached value (calamine
    would silently read those cells as blank).

    A member that does not inflate (``DAMAGED``: a corrupt deflate stream, one
    that ends early or fails its CRC) is refused here as a damaged file
    (``file_corrupt``), before calamine opens the file.
    """
    extents: dict[str, Extent] = {}
    gaps: dict[str, set[tuple[int, int]]] = {}
    large: dict[str, tuple[str, XlsxScan]] = {}
    recheck: dict[str, Callable[[], SheetExtent]] = {}
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            first = _first_visible_xlsx_sheet(zf) if trust_rows else None
            for name, path in _xlsx_sheet_paths(zf).items():
                try:
                    scan = None
                    if name == first:
                        scan = read_member(
                            data,
                            zf,
                            path,
                            lambda fh, name=name: dimensions_xlsx.declared_xlsx_sheet(
                                fh, name, trust_rows
                            ),
                        )
                        if scan is not None:
                            recheck[name] = _full_xlsx_extent(data, path, name)
                    if scan is None:
                        scan = read_member(
                            data,
                            zf,
                            path,
                            lambda fh, name=name: dimensions_xlsx.scan_xlsx_sheet(fh, name),
                        )
                except KeyError:
                    continue
                extents[name] = (
                    scan.extent if scan.conclusive else _exact_xlsx_extent(data, path, name)
                )
                large[name] = (path, scan)
                if scan.has_formula:
                    with zf.open(path) as fh:
                        found = formulas_without_value(fh)
                    if found:
                        gaps[name] = found
    except DAMAGED as exc:
        raise corrupt(file_name) from exc
    except (KeyError, OSError, SafeET.ParseError, ValueError):
        return extents, gaps, {}, recheck
    return extents, gaps, large, recheck


def stream_choice(extent: SheetExtent, scan: XlsxScan | None, threshold: int) -> bool:
    """Whether a worksheet is read by the streaming reader instead of python-calamine.

    Above ``threshold`` rows (``ReadLimits.stream_rows``; calamine's whole
    grid of such a sheet was a 1M-row import's peak memory), when every cell
    carries its reference (the streaming reader places cells by it).  .xls
    and .ods sheets are always read by calamine.
    """
    return scan is not None and scan.referenced and extent.rows > threshold


def _full_xlsx_extent(data: bytes, path: str, name: str) -> Callable[[], SheetExtent]:
    """The full measure of one worksheet (``scan_xlsx_sheet``, exact count if inconclusive)."""

    def measure() -> SheetExtent:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            scan = read_member(data, zf, path, lambda fh: dimensions_xlsx.scan_xlsx_sheet(fh, name))
        return scan.extent if scan.conclusive else _exact_xlsx_extent(data, path, name)()

    return measure


def _exact_xlsx_extent(data: bytes, path: str, name: str) -> Callable[[], SheetExtent]:
    """Count every cell of one worksheet, when (and only if) it is about to be read."""

    def count() -> SheetExtent:
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as zf, zf.open(path) as fh:
                return dimensions_xlsx.count_xlsx_sheet(fh, name)
        except (*DAMAGED, KeyError, OSError, SAXException):
            return SheetExtent(name, 0, 0, 0)  # unreadable: calamine will refuse it

    return count


def _first_visible_xlsx_sheet(zf: zipfile.ZipFile) -> str | None:
    """The name of the workbook's first sheet that is not hidden (calamine builds it first)."""
    for el in SafeET.fromstring(zf.read("xl/workbook.xml")).iter():
        if el.tag.endswith("}sheet") and el.get("state", "visible") == "visible":
            return el.get("name")
    return None


def _xlsx_sheet_paths(zf: zipfile.ZipFile) -> dict[str, str]:
    """Sheet name → worksheet XML path, from workbook.xml and its relationships."""
    ns_rel = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"
    workbook = SafeET.fromstring(zf.read("xl/workbook.xml"))
    rels = SafeET.fromstring(zf.read("xl/_rels/workbook.xml.rels"))
    targets = {}
    for rel in rels:
        target = rel.get("Target", "")
        target = target.lstrip("/")
        if not target.startswith("xl/"):
            target = "xl/" + target
        targets[rel.get("Id")] = target
    out = {}
    for el in workbook.iter():
        if el.tag.endswith("}sheet") and el.get(ns_rel) in targets:
            out[el.get("name")] = targets[el.get(ns_rel)]
    return out
