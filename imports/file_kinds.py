"""What kind of file an upload is, from its content: refuse what is not a spreadsheet.

A zip is an xlsx/xlsm/ods (or a renamed .docx, an .xlsb, a zip bomb), an
OLE2 file is an .xls (or an encrypted workbook, a .doc, a WPS .et), ``%PDF``
is a PDF, anything else is tried as CSV text unless it looks binary.  The
extension is only a hint for the message.  Each refusal is a
``LedgerRejected`` with a stable code and says what to do.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import PurePath

from imports.issues import LedgerRejected

MB = 1024 * 1024
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_MAGIC = b"PK\x03\x04"
# A single member may expand at most this much (deflate tops out near 1032×);
# real sheets compress 5–50×.
MAX_MEMBER_RATIO = 200
MIN_RATIO_CHECK_BYTES = 10 * MB

SAVE_AS = "请在 Excel 或 WPS 中打开后“另存为” .xlsx 格式再上传。"


def detect_kind(data: bytes, file_name: str, *, max_unzipped_mb: int) -> str:
    """Return "xlsx" | "xlsm" | "xls" | "ods" | "csv" or raise LedgerRejected."""
    suffix = PurePath(file_name).suffix.lower()
    head = data[:8]
    if head.startswith(ZIP_MAGIC) or head.startswith(b"PK\x05\x06"):
        return _zip_kind(data, file_name, max_unzipped_mb)
    if head == OLE2_MAGIC:
        return _ole_kind(data, file_name, suffix)
    if data.lstrip()[:5] == b"%PDF-":
        raise LedgerRejected(
            f"文件“{file_name}”是 PDF 文档，不是表格。请上传 Excel 台账（.xlsx/.xls）或 CSV 文件。",
            code="file_not_spreadsheet",
        )
    if suffix == ".et":
        raise unsupported(file_name, "WPS 表格 .et")
    if b"\x00" in data[:8192] or _looks_binary(data[:8192]):
        raise LedgerRejected(
            f"文件“{file_name}”不是可识别的表格文件（.xlsx、.xlsm、.xls、.ods 或 .csv）。"
            "如果它是从其他软件导出的，请在 Excel 或 WPS 中打开后另存为 .xlsx 再上传。",
            code="file_not_spreadsheet",
        )
    return "csv"


def _looks_binary(sample: bytes) -> bool:
    controls = sum(1 for b in sample if b < 9 or 13 < b < 32)
    return controls > max(8, len(sample) // 100)


def unsupported(file_name: str, what: str) -> LedgerRejected:
    return LedgerRejected(
        f"文件“{file_name}”是 {what} 格式，不能直接导入。{SAVE_AS}", code="file_unsupported"
    )


def _zip_kind(data: bytes, file_name: str, max_unzipped_mb: int) -> str:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            infos = zf.infolist()
            names = {i.filename for i in infos}
            _check_zip_bomb(infos, file_name, max_unzipped_mb)
            mimetype = zf.read("mimetype")[:100] if "mimetype" in names else b""
    except zipfile.BadZipFile:
        raise corrupt(file_name) from None
    except (OSError, EOFError, zipfile.LargeZipFile, NotImplementedError):
        raise corrupt(file_name) from None
    if "xl/workbook.xml" in names:
        return "xlsm" if "xl/vbaProject.bin" in names else "xlsx"
    if "xl/workbook.bin" in names:
        raise unsupported(file_name, "Excel 二进制工作簿 .xlsb")
    if mimetype.startswith(b"application/vnd.oasis.opendocument.spreadsheet"):
        return "ods"
    if "word/document.xml" in names or mimetype.startswith(
        b"application/vnd.oasis.opendocument.text"
    ):
        what = "Word 文档"
    elif any(n.startswith("ppt/") for n in names):
        what = "PowerPoint 演示文稿"
    else:
        what = "压缩包"
    raise LedgerRejected(
        f"文件“{file_name}”是{what}，不是表格。请上传 Excel 台账（.xlsx/.xls）或 CSV 文件；"
        "如果扩展名被改过，请用原来的软件打开确认。",
        code="file_not_spreadsheet",
    )


def _check_zip_bomb(infos: list[zipfile.ZipInfo], file_name: str, max_unzipped_mb: int) -> None:
    total = sum(i.file_size for i in infos)
    absurd = any(
        i.file_size >= MIN_RATIO_CHECK_BYTES
        and i.file_size > MAX_MEMBER_RATIO * max(i.compress_size, 1)
        for i in infos
    )
    if total > max_unzipped_mb * MB or absurd:
        raise LedgerRejected(
            f"文件“{file_name}”解压后约 {total / MB:.0f} MB（上限 {max_unzipped_mb} MB）"
            "或压缩比异常，疑似压缩炸弹，已拒绝读取。请检查文件来源；如确为台账，请按村拆分后再上传。",
            code="file_zip_bomb",
        )


def corrupt(file_name: str) -> LedgerRejected:
    return LedgerRejected(
        f"文件“{file_name}”已损坏，无法读取（可能没有下载或复制完整）。"
        "请在 Excel 或 WPS 中打开确认，必要时重新保存后再上传。",
        code="file_corrupt",
    )


def _ole_streams(data: bytes) -> set[str]:
    """Names of the well-known streams an OLE2 compound file holds (cheap byte search)."""
    found = set()
    for name in ("EncryptedPackage", "Workbook", "Book", "WordDocument", "PowerPoint Document"):
        if name.encode("utf-16-le") in data:
            found.add(name)
    return found


def _ole_kind(data: bytes, file_name: str, suffix: str) -> str:
    streams = _ole_streams(data)
    if "EncryptedPackage" in streams:
        raise encrypted(file_name)
    if "WordDocument" in streams or "PowerPoint Document" in streams:
        what = "Word 文档" if "WordDocument" in streams else "PowerPoint 演示文稿"
        raise LedgerRejected(
            f"文件“{file_name}”是{what}，不是表格。请上传 Excel 台账（.xlsx/.xls）或 CSV 文件。",
            code="file_not_spreadsheet",
        )
    if suffix == ".et":
        raise unsupported(file_name, "WPS 表格 .et")
    if "Workbook" in streams or "Book" in streams:
        return "xls"
    raise LedgerRejected(
        f"文件“{file_name}”是无法识别的 Office 文件，不是表格。{SAVE_AS}",
        code="file_not_spreadsheet",
    )


def encrypted(file_name: str) -> LedgerRejected:
    return LedgerRejected(
        f"工作簿“{file_name}”设置了打开密码（已加密），无法读取。"
        "请在 Excel 或 WPS 中打开，取消密码（文件 → 信息 → 保护工作簿 → 用密码进行加密，清空密码）后另存再上传。",
        code="file_encrypted",
    )
