"""POSTs a delivery to its receiver (urllib3, kept-alive connections per receiver).

One attempt has one deadline (``timeout``, 10 s by CONTRACT §6) for connecting, sending
and the status line; redirects are never followed (a 3xx is a failure: following one
could lead to an address the target rules refuse); the answer's body is read only up to
``MAX_BODY_BYTES`` (a receiver cannot keep a worker busy by streaming)."""
from __future__ import annotations

import time

import urllib3
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    SSLError,
)

from ..domain.model import AttemptResult
from ..domain.targets import Target

MAX_BODY_BYTES = 64 * 1024
CONNECT_TIMEOUT = 5.0


class HttpSender:
    def __init__(self, timeout: float, pool_size: int):
        self.timeout = timeout
        # block=False: a burst opens extra connections instead of waiting for a pooled one.
        self.pools = urllib3.PoolManager(num_pools=200, maxsize=pool_size, block=False, retries=False)

    def post(self, target: Target, body: bytes, headers: dict[str, str]) -> AttemptResult:
        started = time.monotonic()
        timeout = urllib3.Timeout(total=self.timeout, connect=min(CONNECT_TIMEOUT, self.timeout))
        try:
            if target.connect_to is None:
                response = self.pools.urlopen("POST", target.url, body=body, headers=headers, redirect=False,
                                              retries=False, timeout=timeout, preload_content=False)
            else:
                # Connect to the address the target rules checked; TLS still verifies the host name.
                tls = {"server_hostname": target.host, "assert_hostname": target.host} if target.scheme == "https" else {}
                pool = self.pools.connection_from_host(target.connect_to, port=target.port, scheme=target.scheme,
                                                       pool_kwargs=tls)
                response = pool.urlopen("POST", target.path, body=body,
                                        headers={**headers, "Host": target.host_header}, redirect=False,
                                        retries=False, timeout=timeout, preload_content=False,
                                        assert_same_host=False)
            self._discard_body(response, started)
        except NewConnectionError as exc:  # before the timeouts: urllib3 derives it from ConnectTimeoutError
            return AttemptResult(None, f"无法连接：{_reason(exc)}", time.monotonic() - started)
        except (ConnectTimeoutError, ReadTimeoutError, TimeoutError):
            return AttemptResult(None, f"超时（{self.timeout:g} 秒内未应答）", time.monotonic() - started)
        except SSLError as exc:
            return AttemptResult(None, f"TLS 错误：{_reason(exc)}", time.monotonic() - started)
        except (ProtocolError, HTTPError, OSError) as exc:
            return AttemptResult(None, f"连接中断：{_reason(exc)}", time.monotonic() - started)
        duration = time.monotonic() - started
        status = response.status
        if duration > self.timeout:
            return AttemptResult(status, f"超时（{duration:.1f} 秒才应答）", duration)
        if 200 <= status < 300:
            return AttemptResult(status, None, duration)
        if 300 <= status < 400:
            return AttemptResult(status, f"HTTP {status}（不跟随重定向）", duration)
        return AttemptResult(status, f"HTTP {status}", duration)

    def _discard_body(self, response, started: float) -> None:
        """Read what the receiver answered (bounded), so that the connection can be reused;
        a longer body closes the connection instead."""
        read = 0
        try:
            while read <= MAX_BODY_BYTES and time.monotonic() - started <= self.timeout:
                chunk = response.read(8192)
                if not chunk:
                    response.release_conn()
                    return
                read += len(chunk)
            response.close()
        except (HTTPError, OSError):
            response.close()

    def close(self) -> None:
        self.pools.clear()


def _reason(exc: Exception) -> str:
    text = str(getattr(exc, "reason", None) or exc)
    return text.split(": ", 1)[-1][:200]
