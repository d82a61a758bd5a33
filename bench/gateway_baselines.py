"""The gateway section's baselines and fault (used by ``bench/run.py``):

- ``Nginx``: nginx from Debian's packages as a plain reverse proxy in front of the same
  customer-service (keep-alive upstream connections, nothing buffered, as many worker
  processes as the gateway has): what one real proxy hop costs on this machine.
- ``SlowUpstream``: a fake service that answers every request after ``delay`` seconds (or
  when released), counting what is waiting, to hang requests on one upstream of a gateway.
- ``gateway_process``: one more gateway of the set's, with one upstream pointed elsewhere.

``find_nginx`` looks on PATH and in /usr/sbin; ``bench/ensure-nginx.sh`` (run by
``make bench``) installs Debian's ``nginx-light`` when it is missing and apt can."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests

from crm_testing import Process, free_port, gateway_argv, prometheus_dir, rmtree

NGINX_CONF = """\
worker_processes {workers};
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {dir}/body;
  proxy_temp_path {dir}/proxy;
  fastcgi_temp_path {dir}/fastcgi;
  uwsgi_temp_path {dir}/uwsgi;
  scgi_temp_path {dir}/scgi;
  upstream service {{
    server {upstream};
    keepalive 64;
    keepalive_timeout 30s;
  }}
  server {{
    listen 127.0.0.1:{port};
    location / {{
      proxy_pass http://service;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_buffering off;
      proxy_request_buffering off;
    }}
  }}
}}
"""


def find_nginx() -> str | None:
    return shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx")
                                          if os.access(p, os.X_OK)), None)


class Nginx:
    def __init__(self, binary: str, upstream: str, workers: int):
        self.binary, self.upstream, self.workers = binary, upstream, workers
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="bench-nginx-"))
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "Nginx":
        conf = self.dir / "nginx.conf"
        conf.write_text(NGINX_CONF.format(workers=self.workers, dir=self.dir, upstream=self.upstream,
                                          port=self.port))
        self.proc = subprocess.Popen([self.binary, "-c", str(conf), "-p", str(self.dir)],
                                     stdout=subprocess.DEVNULL, stderr=open(self.dir / "stderr.log", "wb"),
                                     start_new_session=True)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"nginx exited: {(self.dir / 'stderr.log').read_text()[-500:]}")
            try:
                requests.get(self.url + "/healthz", timeout=1)
                return self
            except requests.RequestException:
                time.sleep(0.1)
        raise RuntimeError("nginx did not start listening in 15 s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        rmtree(self.dir)


class SlowUpstream:
    """Answers every request after ``delay`` seconds, or earlier when ``release()`` is
    called (one thread per request: waiting is all it does). ``waiting`` is how many
    requests it holds right now."""

    def __init__(self, delay: float):
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                with upstream._lock:
                    upstream.waiting += 1
                    gate = upstream._gate
                try:
                    gate.wait(delay)  # being slow is this fake's job
                    body = b'{"success": true, "data": {"slow": true}}'
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                finally:
                    with upstream._lock:
                        upstream.waiting -= 1

            def log_message(self, *args):
                pass

        self.waiting = 0
        self._lock = threading.Lock()
        self._gate = threading.Event()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> "SlowUpstream":
        self._thread.start()
        return self

    def release(self) -> None:
        """Answer every request waiting now; later ones wait again."""
        with self._lock:
            gate, self._gate = self._gate, threading.Event()
        gate.set()

    def stop(self) -> None:
        self.release()
        self.server.shutdown()
        self.server.server_close()


def gateway_process(env: dict[str, str], log_dir: Path, workers: int, **overrides: str) -> tuple[Process, str]:
    """A gateway (``gateway serve``) with the set's environment plus ``overrides``; returns
    the process (started, ready) and its prometheus directory (to remove afterwards)."""
    port, prom = free_port(), prometheus_dir()
    env = {**env, "PROMETHEUS_MULTIPROC_DIR": prom, "METRICS_PORT": str(free_port()), **overrides}
    proc = Process("gateway-slow-upstream", gateway_argv(port, workers), env,
                   ready_url=f"http://127.0.0.1:{port}/healthz", log_dir=log_dir)
    proc.url = f"http://127.0.0.1:{port}"
    return proc.start(wait=60), prom
