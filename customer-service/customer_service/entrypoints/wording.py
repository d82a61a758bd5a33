"""How each API surface words a refusal: one message table per surface, keyed by the
domain's error code (``domain.errors``), plus the surface's names for the model's fields.

``Wording.install(blueprint)`` renders every error of the blueprint's views in the
surface's envelope (through ``crm_common.web.error_response``); ``translate`` and
``messages`` serve batch answers (bulk records, import rows) that report refusals inside a
success. An error without an entry keeps its default message and code; field names are
translated either way."""
from __future__ import annotations

import string
from dataclasses import dataclass
from typing import Callable, Mapping

import marshmallow as ma

from crm_common.errors import AppError
from crm_common.web import error_response

from ..domain.errors import BatchRefused, DomainError, Refusals

Message = str | Callable[[DomainError], str]


@dataclass(frozen=True)
class Say:
    """A surface's words for one error code: ``message`` (a template over the refusal's
    ``params``, or a function of the refusal), and when they differ from the domain's, the
    HTTP ``status``, the public ``code`` and the ``field`` to name."""
    message: Message | None = None
    status: int | None = None
    code: str | None = None
    field: str | None = None


class _Blank(dict):
    def __missing__(self, key):
        return ""


def field_names(schema: type[ma.Schema]) -> dict[str, str]:
    """Model attribute -> the surface's name, from a schema's ``data_key``s."""
    return {name: f.data_key for name, f in schema._declared_fields.items() if f.data_key and f.data_key != name}


class Wording:
    def __init__(self, table: Mapping[str, Say], fields: Mapping[str, str] | None = None):
        self.table = dict(table)
        self.fields = dict(fields or {})

    def but(self, table: Mapping[str, Say]) -> "Wording":
        """This wording with some entries replaced."""
        return Wording({**self.table, **table}, self.fields)

    def field(self, name: str) -> str:
        return self.fields.get(name, name)

    def message(self, exc: AppError) -> str:
        say = self.table.get(exc.error_code or "")
        if say is None or say.message is None or not isinstance(exc, DomainError):
            return exc.message
        if callable(say.message):
            return say.message(exc)
        return string.Formatter().vformat(say.message, (), _Blank(exc.params))

    def errors(self, exc: AppError) -> dict[str, list[str]] | None:
        """The refusal's fields in the surface's names, each with the surface's message."""
        if isinstance(exc, BatchRefused):
            return {f"{index}.{key}": messages for index, refusal in exc.items.items()
                    for key, messages in (self.errors(refusal) or {}).items()}
        if isinstance(exc, Refusals):
            return {key: messages for part in exc.refusals for key, messages in (self.errors(part) or {}).items()}
        if isinstance(exc, DomainError):
            say = self.table.get(exc.code)
            name = (say.field if say and say.field else None) or exc.field
            return {self.field(name): [self.message(exc)]} if name else None
        if exc.errors:
            return {self.field(str(key)): value for key, value in exc.errors.items()}
        return None

    def translate(self, exc: AppError) -> AppError:
        """The error as this surface answers it."""
        say = self.table.get(exc.error_code or "") if isinstance(exc, DomainError) else None
        out = AppError(self.message(exc), errors=self.errors(exc),
                       error_code=(say.code if say and say.code else None) or exc.error_code, headers=exc.headers)
        out.status = (say.status if say and say.status else None) or exc.status
        return out

    def install(self, blueprint) -> None:
        @blueprint.errorhandler(AppError)
        def _worded(exc: AppError):
            out = self.translate(exc)
            return error_response(out.status, out.message, out.errors, out.error_code, out.headers)
