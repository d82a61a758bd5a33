"""The external property-information service (``PROPERTY_LOOKUP_URL``; seed 002 外部房源信息
自动查询): ``GET {url}?property_name=…&property_address=…`` answering the property's fields
with the seed's camelCase names, either bare or inside ``{"data": {...}}``.

Best effort by design: a timeout (1 s by default), an error or an unusable answer gives
``None`` and the record is written with what the caller sent."""
from __future__ import annotations

import requests
from requests.adapters import HTTPAdapter

from crm_common import logs

log = logs.get_logger("viewing.property_lookup")

# camelCase name -> (kind, max length for strings)
FIELDS = {
    "housingId": (int, None), "houseAreaId": (int, None), "houseAreaName": (str, 100),
    "cityId": (int, None), "cityName": (str, 100), "propertyAddrId": (int, None),
    "unitType": (str, 50), "longitude": (str, 32), "latitude": (str, 32), "roomId": (int, None),
    "advisorId": (int, None), "advisorName": (str, 100), "companyName": (str, 200),
    "companyAbbreviation": (str, 100), "houseTypeId": (int, None),
}
MAX_ID = 2**63 - 1


class PropertyLookup:
    def __init__(self, url: str, *, timeout: float = 1.0, session: requests.Session | None = None):
        self.url = url
        self.timeout = timeout
        if session is None:
            session = requests.Session()
            session.mount("http://", HTTPAdapter(pool_maxsize=32, max_retries=0))
            session.mount("https://", HTTPAdapter(pool_maxsize=32, max_retries=0))
        self.session = session

    def find(self, property_name: str, property_address: str | None) -> dict | None:
        """The property's known fields (camelCase), or ``None``; never raises."""
        params = {"property_name": property_name}
        if property_address:
            params["property_address"] = property_address
        try:
            response = self.session.get(self.url, params=params, timeout=self.timeout,
                                        headers=logs.trace_headers())
            if response.status_code != 200:
                log.warning("property_lookup_failed", status=response.status_code)
                return None
            found = usable_fields(response.json())
        except Exception as exc:  # noqa: BLE001 - a third party must never stop a record
            log.warning("property_lookup_failed", error=type(exc).__name__)
            return None
        return found or None


def usable_fields(body) -> dict:
    """The recognised property fields of an answer, with their types checked."""
    if isinstance(body, dict) and "data" in body:
        body = body["data"]
    if isinstance(body, list):
        body = body[0] if body else {}
    if not isinstance(body, dict):
        return {}
    out = {}
    for name, (kind, max_len) in FIELDS.items():
        value = body.get(name)
        if value is None or isinstance(value, bool):
            continue
        if kind is int:
            if isinstance(value, str) and value.strip().isdigit():
                value = int(value)
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            if isinstance(value, int) and 0 <= value <= MAX_ID:
                out[name] = value
        else:
            if isinstance(value, (int, float)):
                value = str(value)
            if isinstance(value, str) and value.strip() and len(value) <= max_len:
                out[name] = value
    return out
