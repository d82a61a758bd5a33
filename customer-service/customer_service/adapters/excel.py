"""Excel files of seed 001 §6: reading an uploaded .xlsx safely, writing the import
template (openpyxl: drop-downs, comments, a help sheet) and producing the export row by row
while it is sent (plain SpreadsheetML, see ``ExportWriter``).

Bounded by construction. An upload is spooled with a byte limit; as a zip archive it must
hold a workbook, and no part may unpack into more than any sheet within the import's caps
could (a zip bomb is refused from the archive's directory, before anything is inflated); a
sheet whose ``<dimension>`` declares more rows than the cap is refused before it is parsed.
Rows are then streamed from the first worksheet (openpyxl's worksheet parser, fed by us:
openpyxl's own read-only workbook scans a sheet without ``<dimension>`` to its end before
the first row) and reading stops at the first row past the cap. The export holds no more
than a batch of rows in memory, whatever the number of customers."""
from __future__ import annotations

import io
import re
import tempfile
import zipfile
from decimal import Decimal
from typing import IO, Any, Iterator, Sequence
from xml.sax.saxutils import escape

from openpyxl import Workbook
from openpyxl.comments import Comment
from openpyxl.reader.excel import ExcelReader
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.styles.stylesheet import apply_stylesheet
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._reader import WorkSheetParser
from openpyxl.worksheet.datavalidation import DataValidation

from crm_common.errors import BadRequest, PayloadTooLarge

from ..domain import rules, spreadsheet
from ..domain.spreadsheet import Column

XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MAX_UPLOAD_BYTES = 10 * 1024 * 1024
MAX_SCANNED_ROWS = 100_000               # rows read at most (blank ones included)
MAX_PART_BYTES = 64 * 1024 * 1024        # any part unpacked: far above 10,000 real customer rows
MAX_UNPACKED_BYTES = 128 * 1024 * 1024   # the whole archive unpacked
DIMENSION_PEEK_BYTES = 64 * 1024         # <dimension> comes before <sheetData>, near the start
DATA_SHEET = "客户列表"
TEMPLATE_SHEET = "客户导入"
HELP_SHEET = "填写说明"
_HEADER_FONT = Font(bold=True, color="FFFFFF")
_REQUIRED_FONT = Font(bold=True, color="FFFF00")
_HEADER_FILL = PatternFill("solid", fgColor="4472C4")
_TEXT_FIELDS = {"customerCode", "phoneNumber", "taxNumber"}
_DIMENSION = re.compile(rb"<(?:\w+:)?dimension\b[^>]*\bref=\"(?:[A-Za-z]{1,3}\d+:)?[A-Za-z]{1,3}(\d+)\"")
NOT_XLSX = "文件不是有效的 .xlsx 文件（请使用 Excel 2007 及以上格式，可先下载导入模板）"
TOO_LARGE_UNPACKED = "文件解压后过大，无法导入"
TOO_MANY_ROWS = f"工作表行数超过 {MAX_SCANNED_ROWS} 行，无法导入"


# --- reading -----------------------------------------------------------------------------

def _refuse(message: str) -> BadRequest:
    return BadRequest(message, errors={"file": [message]})


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
        raise _refuse("仅支持 .xlsx 格式的 Excel 文件")


def _open_archive(file: IO[bytes]) -> zipfile.ZipFile:
    """The upload as a zip archive holding a workbook, whose parts unpack into no more than
    ``MAX_PART_BYTES`` each and ``MAX_UNPACKED_BYTES`` together, as its directory declares
    (``zipfile`` never inflates a part past its declared size)."""
    try:
        archive = zipfile.ZipFile(file)
        infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        raise _refuse(NOT_XLSX) from None
    names = {info.filename for info in infos}
    if "xl/workbook.xml" not in names or "[Content_Types].xml" not in names:
        raise _refuse(NOT_XLSX)
    if any(info.file_size > MAX_PART_BYTES for info in infos) or \
            sum(info.file_size for info in infos) > MAX_UNPACKED_BYTES:
        raise _refuse(TOO_LARGE_UNPACKED)
    return archive


def _declared_rows(archive: zipfile.ZipFile, name: str) -> int | None:
    """The last row the sheet's ``<dimension>`` declares, from its first bytes only."""
    with archive.open(name) as part:
        head = part.read(DIMENSION_PEEK_BYTES)
    found = _DIMENSION.search(head)
    return int(found.group(1)) if found else None


def read_rows(file: IO[bytes], *, max_columns: int = spreadsheet.MAX_IMPORT_COLUMNS) -> Iterator[tuple[int, tuple]]:
    """(Excel row number, the first ``max_columns`` cell values) of each row of the first
    worksheet that holds anything, streaming; refused (400) past ``MAX_SCANNED_ROWS``."""
    archive = _open_archive(file)
    try:
        reader = ExcelReader(file, read_only=True, data_only=True)
        reader.read_manifest()
        reader.read_strings()
        reader.read_workbook()
        apply_stylesheet(reader.archive, reader.wb)
        target = next((rel.target for _sheet, rel in reader.parser.find_sheets()
                       if "chartsheet" not in rel.Type and rel.target in reader.valid_files), None)
    except BadRequest:
        raise
    except Exception:  # noqa: BLE001 - openpyxl raises many kinds for a broken file
        raise _refuse(NOT_XLSX) from None
    if target is None:
        raise _refuse("文件中没有工作表")
    declared = _declared_rows(archive, target)
    if declared is not None and declared > MAX_SCANNED_ROWS:
        raise _refuse(TOO_MANY_ROWS)
    wb = reader.wb
    try:
        with archive.open(target) as source:
            parser = WorkSheetParser(source, reader.shared_strings, data_only=True, epoch=wb.epoch,
                                     date_formats=wb._date_formats, timedelta_formats=wb._timedelta_formats)
            for number, cells in parser.parse():
                if number > MAX_SCANNED_ROWS:
                    raise _refuse(TOO_MANY_ROWS)
                values = [None] * max_columns
                for cell in cells:
                    if cell["column"] <= max_columns:
                        values[cell["column"] - 1] = cell["value"]
                yield number, tuple(values)
    except BadRequest:
        raise
    except Exception:  # noqa: BLE001 - a sheet broken half-way (bad XML, a part that fails its CRC)
        raise _refuse(NOT_XLSX) from None
    finally:
        archive.close()


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


# The export writes SpreadsheetML itself, row by row, into a zip archive whose bytes are
# sent as they are made: openpyxl's write-only mode builds a cell object per value and
# measured 4-5x slower, and it only yields a file once the last row is written, so that
# with 100,000 customers the first byte could come later than the gateway waits for.
_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/styles.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
    '</Types>')
_ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
    'officeDocument" Target="xl/workbook.xml"/></Relationships>')
_WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheets><sheet name="{name}" sheetId="1" r:id="rId1"/></sheets></workbook>')
_WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
    'worksheet" Target="worksheets/sheet1.xml"/>'
    '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
    'styles" Target="styles.xml"/></Relationships>')
_STYLES = (  # style 0: default; style 1: the header (bold white on blue, centred)
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    '<fonts count="2"><font><sz val="11"/><name val="Calibri"/></font>'
    '<font><b/><sz val="11"/><color rgb="FFFFFFFF"/><name val="Calibri"/></font></fonts>'
    '<fills count="3"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill>'
    '<fill><patternFill patternType="solid"><fgColor rgb="FF4472C4"/><bgColor indexed="64"/></patternFill></fill>'
    '</fills><borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="0" fontId="1" fillId="2" borderId="0" xfId="0" applyFont="1" applyFill="1" '
    'applyAlignment="1"><alignment horizontal="center" vertical="center"/></xf></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles></styleSheet>')
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_FLUSH_ROWS = 500


def _xml_text(value: str) -> str:
    return escape(_XML_ILLEGAL.sub("", value))


def _cell(ref: str, value: Any, style: int = 0) -> str:
    styled = f' s="{style}"' if style else ""
    if value is None:
        return ""
    if isinstance(value, bool):
        value = "是" if value else "否"
    if isinstance(value, (int, float, Decimal)):
        return f'<c r="{ref}"{styled}><v>{value}</v></c>'
    return f'<c r="{ref}"{styled} t="inlineStr"><is><t xml:space="preserve">{_xml_text(str(value))}</t></is></c>'


class _Sink:
    """Where the zip archive of the export lands: bytes wait here until the response takes
    them (an unseekable stream, so zipfile writes data descriptors, as streamed zips do)."""

    def __init__(self):
        self.buffer = bytearray()

    def write(self, data: bytes) -> int:
        self.buffer += data
        return len(data)

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        data = bytes(self.buffer)
        self.buffer.clear()
        return data


class ExportWriter:
    """The customer export as an .xlsx produced while it is sent: rows go into the
    worksheet's zip entry and ``take()`` hands over the compressed bytes made so far, so
    nothing but the current batch of rows is ever held in memory."""

    def __init__(self, columns: Sequence[Column] = spreadsheet.COLUMNS, sheet_name: str = DATA_SHEET):
        self.columns = tuple(columns)
        self.letters = [get_column_letter(i) for i in range(1, len(self.columns) + 1)]
        self.sink = _Sink()
        self.archive = zipfile.ZipFile(self.sink, "w", zipfile.ZIP_DEFLATED, compresslevel=6)
        for name, text in (("[Content_Types].xml", _CONTENT_TYPES), ("_rels/.rels", _ROOT_RELS),
                           ("xl/workbook.xml", _WORKBOOK.format(name=_xml_text(sheet_name))),
                           ("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS), ("xl/styles.xml", _STYLES)):
            self.archive.writestr(name, text)
        self.sheet = self.archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True)
        widths = "".join(f'<col min="{i}" max="{i}" width="{c.width}" customWidth="1"/>'
                         for i, c in enumerate(self.columns, start=1))
        self.sheet.write((
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
            '<sheetViews><sheetView workbookViewId="0"><pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" '
            'state="frozen"/></sheetView></sheetViews>'
            f'<cols>{widths}</cols><sheetData>').encode())
        self.rows = 0  # customers written
        self.next_row = 1
        self.pending: list[str] = []
        self._row([c.header for c in self.columns], style=1)

    def _row(self, values: Sequence[Any], style: int = 0) -> None:
        number, self.next_row = self.next_row, self.next_row + 1
        cells = "".join(_cell(f"{letter}{number}", value, style) for letter, value in zip(self.letters, values))
        self.pending.append(f'<row r="{number}">{cells}</row>')
        if len(self.pending) >= _FLUSH_ROWS:
            self._flush()

    def _flush(self) -> None:
        if self.pending:
            self.sheet.write("".join(self.pending).encode())
            self.pending = []

    def append(self, view: dict[str, Any]) -> None:
        self._row([spreadsheet.export_cell(c.field, view.get(c.field)) for c in self.columns])
        self.rows += 1

    def take(self) -> bytes:
        """The bytes of the file produced so far (possibly none yet)."""
        self._flush()
        return self.sink.take()

    def finish(self) -> bytes:
        """The rest of the file: the end of the sheet and the zip's central directory."""
        self._flush()
        self.sheet.write(b"</sheetData></worksheet>")
        self.sheet.close()
        self.archive.close()
        return self.sink.take()
