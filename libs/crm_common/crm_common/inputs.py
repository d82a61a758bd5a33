"""Input that can never be valid is refused at the door, as a 400 naming the field
(issue 13): a NUL character or a lone surrogate in any string (PostgreSQL cannot store
the one, UTF-8 cannot encode the other), JSON nested deeper than any real body, integers
with more digits than any column holds, ``NaN``/``Infinity``, and path integers past the
64-bit range. Every service's JSON bodies, query strings, form fields and path segments
pass through here (``crm_common.web``), so no view has to remember."""
from __future__ import annotations

import json
import re
from typing import Any, Iterable

from werkzeug.routing import IntegerConverter
from werkzeug.routing import ValidationError as NoMatch

from .errors import ValidationError

MAX_JSON_DEPTH = 32          # the deepest real body (a bulk batch of customers) is 4
MAX_INTEGER_DIGITS = 30      # NUMERIC(18,2), BIGINT: 19 digits; anything longer is garbage
INT64_MAX = 2**63 - 1

_BAD_TEXT = re.compile("[\x00\ud800-\udfff]")
NUL_MESSAGE = "不能包含空字符（\\u0000）或无效的 Unicode 代理字符"
DEPTH_MESSAGE = f"JSON 嵌套层级超过 {MAX_JSON_DEPTH} 层"
DIGITS_MESSAGE = f"数字超过 {MAX_INTEGER_DIGITS} 位"
CONSTANT_MESSAGE = "不支持 NaN 或 Infinity"


class InvalidInput(ValueError):
    """Raised while reading a body; ``errors`` maps field paths to messages."""

    def __init__(self, errors: dict[str, list[str]]):
        super().__init__("; ".join(f"{k}: {v[0]}" for k, v in errors.items()))
        self.errors = errors


def _int(text: str) -> int:
    digits = text.lstrip("-")
    if len(digits) > MAX_INTEGER_DIGITS:
        raise InvalidInput({"_schema": [DIGITS_MESSAGE]})
    return int(text)


def _no_constants(name: str):
    raise InvalidInput({"_schema": [CONSTANT_MESSAGE]})


def loads(data: bytes | str) -> Any:
    """``json.loads`` that refuses what no field can hold (``InvalidInput``; a malformed
    document still raises ``json.JSONDecodeError``)."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise json.JSONDecodeError(f"请求体不是有效的 UTF-8：{exc.reason}", "", exc.start) from exc
    try:
        value = json.loads(data, parse_int=_int, parse_constant=_no_constants)
    except RecursionError:
        raise InvalidInput({"_schema": [DEPTH_MESSAGE]}) from None
    problems = check_value(value)
    if problems:
        raise InvalidInput(problems)
    return value


def check_value(value: Any, path: str = "", depth: int = 0) -> dict[str, list[str]]:
    """Field path -> message for every string with NUL/lone surrogates (keys included)
    and for nesting past ``MAX_JSON_DEPTH``. Iterative: a hostile body cannot recurse."""
    problems: dict[str, list[str]] = {}
    stack: list[tuple[Any, str, int]] = [(value, path, depth)]
    while stack:
        item, where, level = stack.pop()
        if level > MAX_JSON_DEPTH:
            problems.setdefault(where or "_schema", [DEPTH_MESSAGE])
            continue
        if isinstance(item, str):
            if _BAD_TEXT.search(item):
                problems.setdefault(where or "_schema", [NUL_MESSAGE])
        elif isinstance(item, dict):
            for key, sub in item.items():
                name = f"{where}.{key}" if where else str(key)
                if isinstance(key, str) and _BAD_TEXT.search(key):
                    problems.setdefault(where or "_schema", [NUL_MESSAGE])
                    continue
                stack.append((sub, name, level + 1))
        elif isinstance(item, list):
            for index, sub in enumerate(item):
                stack.append((sub, f"{where}.{index}" if where else str(index), level + 1))
    return problems


def check_pairs(pairs: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    """The same for query parameters, form fields and path segments."""
    problems: dict[str, list[str]] = {}
    for name, value in pairs:
        if _BAD_TEXT.search(name) or (isinstance(value, str) and _BAD_TEXT.search(value)):
            problems.setdefault(_BAD_TEXT.sub("?", name), [NUL_MESSAGE])
    return problems


def refuse(problems: dict[str, list[str]]) -> None:
    if problems:
        raise ValidationError("请求参数错误：" + "；".join(f"{k}: {v[0]}" for k, v in problems.items()),
                              errors=problems, error_code="VALIDATION_ERROR")


class BoundedIntegerConverter(IntegerConverter):
    """``<int:...>`` path segments within 64 bits: a longer number names no row (404)
    instead of reaching the database as an out-of-range parameter."""

    def __init__(self, map, fixed_digits=0, min=None, max=None, signed=False):  # noqa: A002 - werkzeug's names
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=INT64_MAX if max is None else max,
                         signed=signed)

    def to_python(self, value: str) -> int:
        if len(value.lstrip("-")) > 19:  # int() of thousands of digits is refused by Python itself
            raise NoMatch()
        return super().to_python(value)
