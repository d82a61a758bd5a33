"""The tenant API's Excel files (seed 001 §6) as requests and answers: an uploaded sheet
becomes the create requests of its rows (``domain.spreadsheet`` maps the columns,
``ImportRowSchema`` validates each row like a JSON create), the import's outcome becomes
the seed's ImportResult, and customers become the export's rows."""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import IO, Iterable, Iterator

from crm_common.errors import BadRequest

from ...adapters import excel
from ...domain import rules, spreadsheet
from ...service_layer.bulk import Outcome
from ..wording import Wording
from .schemas import FIELD_NAMES, validate_import_row

NO_DATA = "文件中没有客户数据（第一行应为表头，从第二行开始填写客户）"
TOO_MANY_ROWS = f"数据行超过 {spreadsheet.MAX_IMPORT_ROWS} 行的上限，请拆分文件后分批导入"


@dataclass
class SheetRow:
    number: int                       # the row number the user sees in Excel
    original: dict                    # header -> cell value as written


@dataclass
class Sheet:
    rows: list[SheetRow] = field(default_factory=list)
    valid: dict[int, dict] = field(default_factory=dict)      # row number -> the customer's fields
    invalid: dict[int, str] = field(default_factory=dict)     # row number -> why it cannot be imported


def _refuse(message: str) -> BadRequest:
    return BadRequest(message, errors={"file": [message]})


def read_upload(stream: IO[bytes], filename: str | None) -> Sheet:
    """Every data row of the first worksheet (the first non-blank row is the header; blank
    rows are skipped), each validated on its own. Stops at the first row past the cap."""
    excel.check_xlsx_name(filename)
    spooled = excel.spool_upload(stream)
    try:
        return _parse(excel.read_rows(spooled))
    finally:
        spooled.close()


def _parse(rows: Iterable[tuple[int, tuple]]) -> Sheet:
    sheet = Sheet()
    layout: spreadsheet.SheetLayout | None = None
    for number, values in rows:
        if spreadsheet.is_blank(values):
            continue
        if layout is None:
            try:
                layout = spreadsheet.read_layout(values)
            except spreadsheet.SheetError as exc:
                raise _refuse(str(exc)) from None
            continue
        if len(sheet.rows) >= spreadsheet.MAX_IMPORT_ROWS:
            raise _refuse(TOO_MANY_ROWS)
        request, cell_errors = spreadsheet.row_to_request(layout, values)
        sheet.rows.append(SheetRow(number, spreadsheet.original_row(layout, values)))
        fields, errors = validate_import_row(request)
        errors = {**errors, **cell_errors}
        if errors:
            sheet.invalid[number] = spreadsheet.describe_errors(errors)
        else:
            sheet.valid[number] = fields
    if layout is None or not sheet.rows:
        raise BadRequest(NO_DATA, errors={"file": ["文件中没有客户数据"]})
    return sheet


def import_result(sheet: Sheet, outcome: Outcome, wording: Wording) -> dict:
    """Seed 001's ImportResult: each failure with its row number, original data and reason."""
    reasons = dict(sheet.invalid)
    reasons.update((number, wording.message(exc)) for number, exc in outcome.failed.items())
    originals = {row.number: row.original for row in sheet.rows}
    failures = [{"rowNumber": n, "data": originals[n], "errorMessage": reasons[n]} for n in sorted(reasons)]
    successes = [outcome.done[n] for n in sorted(outcome.done)]
    return {"totalRows": len(sheet.rows), "successCount": len(successes), "failureCount": len(failures),
            "isFullSuccess": not failures, "successRecords": successes, "failureRecords": failures}


# --- the export ----------------------------------------------------------------------------

# Importable columns written straight from an attribute, under the name the import maps
# back to that same attribute: the export/import round trip by construction.
_ATTRIBUTE = {api: attribute for attribute, api in FIELD_NAMES.items()}
EXPORTED = tuple((c.field, _ATTRIBUTE.get(c.field, c.field)) for c in spreadsheet.COLUMNS
                 if c.importable and c.field not in ("type", "isActive"))


def export_view(row) -> dict:
    """A customer row (with its order figures) as the columns of the export."""
    view = {api: getattr(row, attribute) for api, attribute in EXPORTED}
    view["type"] = rules.CUSTOMER_TYPES.get(row.type, row.type) if row.type else None
    view["isActive"] = row.status == "active"
    view["availableCredit"] = rules.available_credit(row.credit_limit, row.current_balance)
    view["totalOrders"] = row.total_orders or 0
    view["totalRevenue"] = row.total_revenue or 0
    return view


def export_file(chunks: Iterator[list]) -> Iterator[bytes]:
    """The .xlsx made while it is sent. The first chunk is read now, so that a failing
    query is still an error response rather than a broken file."""
    first = next(chunks, None)
    writer = excel.ExportWriter()

    def pieces() -> Iterator[bytes]:
        yield writer.take()
        for chunk in itertools.chain([first] if first is not None else [], chunks):
            for row in chunk:
                writer.append(export_view(row))
            yield writer.take()
        yield writer.finish()
    return pieces()
