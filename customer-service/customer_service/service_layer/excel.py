"""Excel files of seed 001 §6 (openpyxl): reading an uploaded .xlsx safely, writing the
import template, and writing the export row by row into a temporary file.

Bounded by construction: uploads are spooled with a byte limit and checked as zip
archives before openpyxl opens them (read-only, streaming); the export uses openpyxl's
write-only mode, which keeps no rows in memory (strings are written inline)."""
from __future__ import annotations

import io
import os
import tempfile
import zipfile
from typing import IO, Any, Iterator, Sequence

from openpyxl import Workbook, load_workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from crm_common.errors import BadRequest, PayloadTooLarge

from ..domain import rules, spreadsheet
from ..domain.spreadsheet import Column

XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MAX_UPLOAD_BYTES = 10 * 1024 * 1024
MAX_UNPACKED_BYTES = 300 * 1024 * 1024  # a 10 MB zip that unpacks beyond this is refused
MAX_SCANNED_ROWS = 100_000              # blank rows included
DATA_SHEET = "客户列表"
TEMPLATE_SHEET = "客户导入"
HELP_SHEET = "填写说明"
_HEADER_FONT = Font(bold=True, color="FFFFFF")
_REQUIRED_FONT = Font(bold=True, color="FFFF00")
_HEADER_FILL = PatternFill("solid", fgColor="4472C4")
_TEXT_FIELDS = {"customerCode", "phoneNumber", "taxNumber"}
NOT_XLSX = "文件不是有效的 .xlsx 文件（请使用 Excel 2007 及以上格式，可先下载导入模板）"


# --- reading -----------------------------------------------------------------------------

def spool_upload(stream: IO[bytes], limit: int = MAX_UPLOAD_BYTES) -> IO[bytes]:
    """Copy an upload into a temporary file, refusing it (413) past ``limit`` bytes."""
    spooled = tempfile.SpooledTemporaryFile(max_size=2 * 1024 * 1024)
    size = 0
    while True:
        chunk = stream.read(64 * 1024)
        if not chunk:
            break
        size += len(chunk)
        if size > limit:
            spooled.close()
            raise PayloadTooLarge(f"文件大小超过 {limit // (1024 * 1024)}MB 限制",
                                  errors={"file": [f"文件大小不能超过 {limit // (1024 * 1024)}MB"]})
        spooled.write(chunk)
    if size == 0:
        spooled.close()
        raise BadRequest("上传的文件为空", errors={"file": ["上传的文件为空"]})
    spooled.seek(0)
    return spooled


def check_xlsx_name(filename: str | None) -> None:
    if not filename or not filename.lower().endswith(".xlsx"):
        raise BadRequest("仅支持 .xlsx 格式的 Excel 文件", errors={"file": ["仅支持 .xlsx 格式的 Excel 文件"]})


def _check_archive(file: IO[bytes]) -> None:
    """An .xlsx is a zip holding a workbook part; refuse anything else, and archives that
    would unpack into far more than any real customer sheet."""
    try:
        with zipfile.ZipFile(file) as archive:
            names = set(archive.namelist())
            unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError):
        raise BadRequest(NOT_XLSX, errors={"file": [NOT_XLSX]}) from None
    if "xl/workbook.xml" not in names or "[Content_Types].xml" not in names:
        raise BadRequest(NOT_XLSX, errors={"file": [NOT_XLSX]})
    if unpacked > MAX_UNPACKED_BYTES:
        raise BadRequest("文件解压后过大，无法导入", errors={"file": ["文件解压后过大，无法导入"]})
    file.seek(0)


def read_rows(file: IO[bytes]) -> Iterator[tuple[int, tuple]]:
    """(Excel row number, cell values) of the first worksheet, from row 1, streaming."""
    _check_archive(file)
    try:
        workbook = load_workbook(file, read_only=True, data_only=True)
    except Exception:  # noqa: BLE001 - openpyxl raises many kinds for a broken file
        raise BadRequest(NOT_XLSX, errors={"file": [NOT_XLSX]}) from None
    try:
        if not workbook.worksheets:
            raise BadRequest("文件中没有工作表", errors={"file": ["文件中没有工作表"]})
        sheet = workbook.worksheets[0]
        rows = sheet.iter_rows(min_row=1, max_col=spreadsheet.MAX_IMPORT_COLUMNS, values_only=True)
        for number, values in enumerate(rows, start=1):
            if number > MAX_SCANNED_ROWS:
                raise BadRequest(f"工作表行数超过 {MAX_SCANNED_ROWS} 行，无法导入",
                                 errors={"file": [f"工作表行数超过 {MAX_SCANNED_ROWS} 行"]})
            yield number, values
    except BadRequest:
        raise
    except Exception:  # noqa: BLE001 - a sheet broken half-way
        raise BadRequest(NOT_XLSX, errors={"file": [NOT_XLSX]}) from None
    finally:
        workbook.close()


# --- writing -----------------------------------------------------------------------------

def _style_header(cell, required: bool = False) -> None:
    cell.font = _REQUIRED_FONT if required else _HEADER_FONT
    cell.fill = _HEADER_FILL
    cell.alignment = Alignment(horizontal="center", vertical="center")


def template_bytes() -> bytes:
    """Seed 001 §6.3: headers, two sample rows, drop-downs for 客户类型 / 行业 (and 是否
    启用, 评级), and a sheet explaining every field."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = TEMPLATE_SHEET
    columns = spreadsheet.TEMPLATE_COLUMNS
    for index, column in enumerate(columns, start=1):
        cell = sheet.cell(row=1, column=index, value=column.header)
        _style_header(cell, column.required)
        cell.comment = Comment(("必填。" if column.required else "选填。") + column.explanation, "CRM")
        letter = get_column_letter(index)
        sheet.column_dimensions[letter].width = column.width
        if column.field in _TEXT_FIELDS:
            sheet.column_dimensions[letter].number_format = "@"
    for row, sample in enumerate(spreadsheet.TEMPLATE_SAMPLES, start=2):
        for index, column in enumerate(columns, start=1):
            cell = sheet.cell(row=row, column=index, value=spreadsheet.export_cell(column.field, sample.get(column.field)))
            if column.field in _TEXT_FIELDS:
                cell.number_format = "@"
    sheet.freeze_panes = "A2"
    last_row = spreadsheet.MAX_IMPORT_ROWS + 1

    def column_range(field: str) -> str:
        letter = get_column_letter(next(i for i, c in enumerate(columns, start=1) if c.field == field))
        return f"{letter}2:{letter}{last_row}"

    types = DataValidation(type="list", formula1='"' + ",".join(rules.TYPE_BY_LABEL) + '"', allow_blank=False,
                           showErrorMessage=True, errorTitle="客户类型", error="请从下拉列表选择客户类型")
    types.add(column_range("type"))
    industries = DataValidation(type="list", formula1='"' + ",".join(spreadsheet.INDUSTRIES) + '"',
                                allow_blank=True, showErrorMessage=False)  # other industries stay allowed
    industries.add(column_range("industry"))
    active = DataValidation(type="list", formula1='"是,否"', allow_blank=True, showErrorMessage=True,
                            errorTitle="是否启用", error="请填写 是 或 否")
    active.add(column_range("isActive"))
    ratings = DataValidation(type="whole", operator="between", formula1="1", formula2="5", allow_blank=True,
                             showErrorMessage=True, errorTitle="评级", error="评级为 1-5 的整数")
    ratings.add(column_range("rating"))
    for validation in (types, industries, active, ratings):
        sheet.add_data_validation(validation)

    help_sheet = workbook.create_sheet(HELP_SHEET)
    for index, header in enumerate(("字段", "是否必填", "填写说明"), start=1):
        _style_header(help_sheet.cell(row=1, column=index, value=header))
    for row, column in enumerate(columns, start=2):
        help_sheet.append([column.header, "必填" if column.required else "选填", column.explanation])
    notes = [
        "第一个工作表的第一行为表头，请勿修改表头文字；列的顺序可以调整，无法识别的列会被忽略。",
        "第 2、3 行为示例数据，导入前请删除或替换为真实客户。",
        f"每个文件最多 {spreadsheet.MAX_IMPORT_ROWS} 行客户、不超过 {MAX_UPLOAD_BYTES // (1024 * 1024)}MB，仅支持 .xlsx 格式。",
        "每行独立导入：某一行有错误时只跳过该行，导入结果会列出失败行的行号、原始数据和原因。",
        "导出的客户列表可直接再次导入（可用额度、累计订单数、累计营收为计算列，导入时忽略）。",
    ]
    help_sheet.append([])
    for note in notes:
        help_sheet.append(["说明", "", note])
    help_sheet.column_dimensions["A"].width = 14
    help_sheet.column_dimensions["B"].width = 10
    help_sheet.column_dimensions["C"].width = 90
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


class ExportWriter:
    """Rows of the customer export into a temporary .xlsx, never held in memory."""

    def __init__(self, columns: Sequence[Column] = spreadsheet.COLUMNS):
        self.columns = tuple(columns)
        self.workbook = Workbook(write_only=True)
        self.sheet = self.workbook.create_sheet(DATA_SHEET)
        for index, column in enumerate(self.columns, start=1):
            self.sheet.column_dimensions[get_column_letter(index)].width = column.width
        self.sheet.freeze_panes = "A2"
        header = []
        for column in self.columns:
            cell = WriteOnlyCell(self.sheet, value=column.header)
            _style_header(cell)
            header.append(cell)
        self.sheet.append(header)
        self.rows = 0

    def append(self, view: dict[str, Any]) -> None:
        self.sheet.append([spreadsheet.export_cell(c.field, view.get(c.field)) for c in self.columns])
        self.rows += 1

    def discard(self) -> None:
        """Drop a half-written export (openpyxl keeps its rows in a temporary file)."""
        writer = getattr(self.sheet, "_writer", None)
        if writer is not None:
            try:
                writer.close()
                writer.cleanup()
            except Exception:  # noqa: BLE001 - best effort, the export already failed
                pass

    def save(self) -> str:
        """Write the file; returns its path (the caller deletes it)."""
        handle, path = tempfile.mkstemp(prefix="customers-export-", suffix=".xlsx")
        os.close(handle)
        try:
            self.workbook.save(path)
        except BaseException:
            os.unlink(path)
            raise
        return path


def stream_file(path: str, chunk_size: int = 256 * 1024) -> Iterator[bytes]:
    """Yield a file in chunks and delete it afterwards (also when the client goes away)."""
    try:
        with open(path, "rb") as handle:
            while True:
                chunk = handle.read(chunk_size)
                if not chunk:
                    break
                yield chunk
    finally:
        remove_quietly(path)


def remove_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass

