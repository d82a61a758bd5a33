"""Batch use cases of the tenant API (seed 001 §6): Excel import (each row stands or
fails on its own), JSON import (all or nothing), and the Excel export, streamed as it is
made."""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import IO, Callable, Iterable, Iterator

import sqlalchemy as sa

from crm_common.context import RequestContext
from crm_common.db import utcnow
from crm_common.errors import AppError, BadRequest, Conflict, ValidationError

from ..adapters import orm
from ..adapters.repository import CustomerFilter
from ..domain import spreadsheet
from ..domain.model import Customer
from . import excel
from .mobile_customers import (
    OrderSummaries,
    codes_taken,
    creation_attributes,
    duplicate_code,
    duplicate_name,
    export_view,
    insert_customers,
    names_taken,
)
from .unit_of_work import CustomerUnitOfWork

# request (camelCase) -> (validated request, errors by field); supplied by the entrypoint
# that owns the request schema, so Excel rows and JSON bodies obey the same rules.
Validator = Callable[[dict], "tuple[dict, dict[str, list[str]]]"]
EXPORT_CHUNK = 1000
IMPORT_BATCH = 200
MAX_JSON_IMPORT = 1000


@dataclass
class SheetRow:
    number: int                       # the row number the user sees in Excel
    original: dict                    # header -> cell value as written
    request: dict                     # converted cells (camelCase)
    cell_errors: dict[str, list[str]]


def parse_sheet(rows: Iterable[tuple[int, tuple]]) -> list[SheetRow]:
    """The first non-blank row is the header; blank rows are skipped."""
    layout: spreadsheet.SheetLayout | None = None
    parsed: list[SheetRow] = []
    for number, values in rows:
        if spreadsheet.is_blank(values):
            continue
        if layout is None:
            try:
                layout = spreadsheet.read_layout(values)
            except spreadsheet.SheetError as exc:
                raise BadRequest(str(exc), errors={"file": [str(exc)]}) from None
            continue
        if len(parsed) >= spreadsheet.MAX_IMPORT_ROWS:
            message = f"数据行超过 {spreadsheet.MAX_IMPORT_ROWS} 行的上限，请拆分文件后分批导入"
            raise BadRequest(message, errors={"file": [message]})
        request, cell_errors = spreadsheet.row_to_request(layout, values)
        parsed.append(SheetRow(number, spreadsheet.original_row(layout, values), request, cell_errors))
    if layout is None or not parsed:
        raise BadRequest("文件中没有客户数据（第一行应为表头，从第二行开始填写客户）",
                         errors={"file": ["文件中没有客户数据"]})
    return parsed


def import_workbook(uow: CustomerUnitOfWork, ctx: RequestContext, upload: IO[bytes],
                    filename: str | None, validate: Validator) -> dict:
    """Seed 001 §6.1: every good row is imported with its event even when other rows
    fail; each failure names its row, its original data and the reason."""
    excel.check_xlsx_name(filename)
    spooled = excel.spool_upload(upload)
    try:
        parsed = parse_sheet(excel.read_rows(spooled))
    finally:
        spooled.close()
    return import_rows(uow, ctx, parsed, validate)


def import_rows(uow: CustomerUnitOfWork, ctx: RequestContext, parsed: list[SheetRow],
                validate: Validator) -> dict:
    """Rows are checked first (format, permission, codes and names taken in the factory or
    earlier in the file); the good ones are then written in batches, each batch in a
    savepoint. Should a batch fail (a concurrent writer took a name or code), it is
    written again one row per savepoint, so one bad row never costs another its place."""
    successes: list[Customer] = []
    failures: list[dict] = []

    def fail(row: SheetRow, message: str) -> None:
        failures.append({"rowNumber": row.number, "data": row.original, "errorMessage": message})

    now = utcnow()
    with uow:
        taken_codes = codes_taken(uow, ctx.factory_id, [str(r.request.get("customerCode")) for r in parsed
                                                         if r.request.get("customerCode")])
        taken_names = names_taken(uow, ctx.factory_id, [str(r.request.get("name")) for r in parsed
                                                         if r.request.get("name")])
        ready: list[tuple[SheetRow, dict]] = []
        for row in parsed:
            clean, errors = validate(row.request)
            errors = {**errors, **row.cell_errors}
            if errors:
                fail(row, spreadsheet.describe_errors(errors))
                continue
            if clean["customerCode"] in taken_codes:
                fail(row, duplicate_code(clean["customerCode"]).message)
                continue
            if clean["name"] in taken_names:
                fail(row, duplicate_name(clean["name"]).message)
                continue
            try:
                attrs = creation_attributes(ctx, clean, now)
            except AppError as exc:
                fail(row, exc.message)
                continue
            taken_codes.add(clean["customerCode"])
            taken_names.add(clean["name"])
            ready.append((row, attrs))
        for start in range(0, len(ready), IMPORT_BATCH):
            batch = ready[start:start + IMPORT_BATCH]
            try:
                with uow.savepoint():
                    successes.extend(insert_customers(uow, ctx, [attrs for _, attrs in batch]))
            except AppError:
                for row, attrs in batch:
                    try:
                        with uow.savepoint():
                            successes.extend(insert_customers(uow, ctx, [attrs]))
                    except AppError as exc:
                        fail(row, exc.message)
        uow.commit()
    failures.sort(key=lambda f: f["rowNumber"])
    return {"totalRows": len(parsed), "successCount": len(successes), "failureCount": len(failures),
            "isFullSuccess": not failures, "successRecords": successes, "failureRecords": failures}


def import_json(uow: CustomerUnitOfWork, ctx: RequestContext, requests: list[dict]) -> list[Customer]:
    """Seed 001 §6.4: all or nothing. Every problem is reported by item index
    (``"3.customerCode"``) and nothing is written unless every item can be."""
    if not requests:
        raise ValidationError("导入列表不能为空", errors={"_schema": ["导入列表不能为空"]})
    if len(requests) > MAX_JSON_IMPORT:
        message = f"一次最多导入 {MAX_JSON_IMPORT} 个客户"
        raise ValidationError(message, errors={"_schema": [message]})
    errors: dict[str, list[str]] = {}
    first_code: dict[str, int] = {}
    first_name: dict[str, int] = {}
    for index, item in enumerate(requests):
        for key, seen, what in (("customerCode", first_code, "客户代码"), ("name", first_name, "客户名称")):
            value = item[key]
            if value in seen:
                errors.setdefault(f"{index}.{key}", []).append(f"与第 {seen[value]} 项的{what}重复: {value}")
            else:
                seen[value] = index
    with uow:
        taken_codes = codes_taken(uow, ctx.factory_id, first_code)
        taken_names = names_taken(uow, ctx.factory_id, first_name)
        for index, item in enumerate(requests):
            if item["customerCode"] in taken_codes:
                errors.setdefault(f"{index}.customerCode", []).append(duplicate_code(item["customerCode"]).message)
            if item["name"] in taken_names:
                errors.setdefault(f"{index}.name", []).append(duplicate_name(item["name"]).message)
        if errors:
            bad = sorted({int(key.split(".", 1)[0]) for key in errors})
            raise ValidationError(f"{len(bad)} 个客户数据有误，未导入任何客户", errors=errors)
        now = utcnow()
        try:
            created = insert_customers(uow, ctx, [creation_attributes(ctx, item, now) for item in requests])
        except Conflict as exc:  # a concurrent writer took a name or code meanwhile
            raise ValidationError(f"{exc.message}（并发写入），未导入任何客户，请重试",
                                  errors={"_schema": [exc.message]}) from exc
        uow.commit()
    return created


def export_workbook(uow: CustomerUnitOfWork, ctx: RequestContext,
                    order_summaries: OrderSummaries | None) -> tuple[int, Iterator[bytes]]:
    """Seed 001 §6.2: every live customer of the factory (in the caller's business
    domains) with its computed fields, as an .xlsx made while it is sent: (number of
    customers, the file's bytes in pieces). Rows come from a server-side cursor in chunks;
    order figures are asked per chunk. The first piece is made here, so that a failing
    query is still an error response rather than a broken file."""
    c = orm.customers.c
    with uow:
        count = uow.session.scalar(uow.customers.filtered(ctx.factory_id, ctx.scope, CustomerFilter())
                                   .with_only_columns(sa.func.count()).order_by(None))

    def pieces() -> Iterator[bytes]:
        writer = excel.ExportWriter()
        with uow:
            stmt = (uow.customers.filtered(ctx.factory_id, ctx.scope, CustomerFilter())
                    .with_only_columns(*orm.customers.columns).order_by(c.id)
                    .execution_options(yield_per=EXPORT_CHUNK))
            yield writer.take()
            for chunk in uow.session.execute(stmt).partitions():
                summaries = order_summaries([row.id for row in chunk]) if order_summaries else None
                for row in chunk:
                    writer.append(export_view(row, (summaries or {}).get(row.id)))
                yield writer.take()
        yield writer.finish()

    stream = pieces()
    first = next(stream)
    return int(count or 0), itertools.chain([first], stream)
