"""Declared sheet sizes, read from the file before any grid is built.

python-calamine turns a sheet into a dense grid spanning its first to its
last non-empty cell before the first row reaches us.  The grid's size comes
from the cells' positions, not from what the file says about itself (an
xlsx ``<dimension>`` is not used by calamine, and is never proof here), so a
1.8 KB xlsx holding A1 and XFD1000000 asks for 16 billion cells and the Rust
side aborts the process; A1 + Z1000000 costs 0.8 GB for two values; an
.xls holding A1 and IV65536 1 GB; an 868-byte .ods repeats one cell into
gigabytes.  A reader per format finds, cheaply and without building anything,
how far the non-empty cells reach and how many there are, and
``check_extent`` refuses (``file_too_complex``) when

- the grid would exceed ``MAX_CELLS`` (30 million cells, twice a 1M-row,
  15-column ledger);
- the cells reach beyond ``MAX_COLUMNS`` (1,000) columns; or
- the grid is more than ``MAX_SPARSENESS`` (50) times the cells actually
  present and larger than ``SPARSE_FLOOR`` (a real ledger is dense; a few
  stray cells far away are not a ledger, and a small sparse sheet costs
  nothing).

What each format costs to measure (this module holds the limits, the
refusal and the streaming XML helper; one module per format does the
measuring):

- **xlsx/xlsm** (``imports.dimensions_xlsx``): one streamed pass over each visible worksheet's XML (the
  same pass that looks for formulas without a cached value).  Columns are
  exact; rows are known to within their number of digits from the cells
  that raise them, and the last cell of the sheet gives the exact figure for
  a file written in order.  Only when that bound is inconclusive (a wide
  sheet of 100k+ rows) is every cell reference read.  Cells without an
  ``r`` attribute (rare writers) are placed by counting, as calamine does.
  A cell with only a style (``<c r="Z9" s="3"/>``) extends nothing, as in
  calamine.  The same pass collects the merged ranges, for the streaming
  reader of large sheets (``imports.streaming_xlsx``).  A ledger parse
  (``ReadLimits.trust_declared``) takes the first visible sheet's size from
  its ``<dimension>`` when nothing about it is doubtful
  (``declared_xlsx_sheet``: ≈ 0.2 s less per 100k rows), checks calamine's
  sheet against it and measures fully when calamine's reaches further, and
  reads the file again without trusting when the child dies building it:
  the refusals are the full measure's, as before.
- **ods** (``imports.dimensions_ods``): one SAX pass over ``content.xml``, expanding repeat counts
  arithmetically (``number-rows-repeated`` × ``number-columns-repeated``),
  never in memory.
- **xls** (``imports.dimensions_xls``): the BIFF records of the workbook stream (via olefile), one per
  cell; an .xls holds at most 65,536 × 256 cells.
- **csv** (``imports.readers``): every line is at most ``MAX_LINE_CHARS`` characters and every row
  at most ``MAX_COLUMNS`` fields, checked as the lines stream by.

These checks give a clear message for the shapes we know; the child
process of ``imports.isolation`` (memory and time limits) catches anything
else a library might do.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import IO, Any
from xml.sax.handler import ContentHandler, feature_namespaces

from imports.issues import LedgerRejected, column_letter

MAX_CELLS = 30_000_000
MAX_COLUMNS = 1_000
MAX_SPARSENESS = 50
SPARSE_FLOOR = 1_000_000
# A CSV line longer than this is not a ledger row (1,000 fields of 1,000 characters).
MAX_LINE_CHARS = 1_000_000
XLSX_MAX_ROWS = 1_048_576
CHUNK = 1 << 22


@dataclass
class SheetExtent:
    """How far a sheet's non-empty cells reach (1-based, from A1) and how many there are."""

    sheet: str
    rows: int
    columns: int
    cells: int

    @property
    def grid(self) -> int:
        return self.rows * self.columns


def _amount(n: int) -> str:
    """1000000 → "100 万", 16384 → "16,384" (how a clerk reads sizes)."""
    if n >= 100_000_000 and n % 1_000_000 == 0:
        return f"{n / 100_000_000:g} 亿"
    if n >= 10_000 and n % 10_000 == 0:
        return f"{n // 10_000:,} 万"
    if n >= 100_000_000:
        return f"约 {n / 100_000_000:.1f} 亿"
    return f"{n:,}"


def extent_problem(extent: SheetExtent) -> str | None:
    """Why this sheet is refused (what is wrong), or None when it may be read."""
    e = extent
    size = f"{_amount(e.rows)} 行 × {_amount(e.columns)} 列"
    far = f"（范围 A1:{column_letter(e.columns - 1)}{e.rows}）" if e.rows and e.columns else ""
    if e.columns > MAX_COLUMNS:
        return (
            f"工作表“{e.sheet}”的内容延伸到第 {e.columns:,} 列（{column_letter(e.columns - 1)} 列）{far}，"
            f"读取时要按 {size} 构建表格，超过了 {MAX_COLUMNS:,} 列的上限"
        )
    if e.grid > MAX_CELLS:
        return (
            f"工作表“{e.sheet}”声明了 {size}{far}，共 {_amount(e.grid)} 个单元格，"
            f"超过了 {_amount(MAX_CELLS)} 个单元格的上限"
        )
    if e.grid > SPARSE_FLOOR and e.grid > MAX_SPARSENESS * max(e.cells, 1):
        return (
            f"工作表“{e.sheet}”声明了 {size}{far}，却只有 {e.cells:,} 个单元格有内容，"
            f"读取时要构建 {_amount(e.grid)} 个单元格的表格（超过实际内容的 {MAX_SPARSENESS} 倍）"
        )
    return None


def check_extent(extent: SheetExtent, file_name: str) -> None:
    """Raise ``file_too_complex`` when reading this sheet would build an absurd grid."""
    problem = extent_problem(extent)
    if problem is None:
        return
    raise LedgerRejected(
        f"文件“{file_name}”无法读取：{problem}，已拒绝。"
        "请在 Excel 或 WPS 中打开这张工作表，删除数据区域以外的行和列（选中多余的行或列 → 右键 → 删除，"
        "不要只清除内容），保存后再上传；数据确实很多时，请按乡镇或村拆分成多个文件。",
        code="file_too_complex",
    )


# --------------------------------------------------------------------------
# Streaming XML (xlsx worksheets, ods content)
# --------------------------------------------------------------------------


def xml_attr(attrs: Any, local: str) -> str | None:
    for (_, name), value in attrs.items():
        if name == local:
            return value
    return None


def sax_stream(fh: IO[bytes], handler: ContentHandler) -> None:
    """Feed a stream to a namespace-aware SAX handler with defusedxml's protections."""
    from defusedxml.sax import make_parser

    parser = make_parser()
    parser.setFeature(feature_namespaces, True)
    parser.setContentHandler(handler)
    while chunk := fh.read(CHUNK):
        parser.feed(chunk)
    parser.close()
