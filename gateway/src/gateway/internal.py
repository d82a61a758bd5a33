"""The gateway's own calls to the services: readiness probes and API documents. A few per
minute, made from the threads that serve the gateway's own endpoints (``wsgi.py``), so a
plain pooled ``requests`` session does; proxied traffic never comes here (``proxy.py``)."""
from __future__ import annotations

import requests

from crm_common import logs


class InternalClient:
    def __init__(self, service_urls: dict[str, str], connect_timeout: float):
        self.urls = {name: url.rstrip("/") for name, url in service_urls.items()}
        self.connect_timeout = connect_timeout
        self.session = requests.Session()
        self.session.trust_env = False  # no proxies or netrc from the environment for internal calls

    def get(self, service: str, path: str, timeout: float) -> requests.Response:
        return self.session.get(self.urls[service] + path, headers=logs.trace_headers(),
                                timeout=(min(self.connect_timeout, timeout), timeout), allow_redirects=False)
