"""gunicorn settings for every HTTP process, from the environment:
``PORT`` (or ``BIND``), ``WEB_CONCURRENCY`` workers, ``GUNICORN_THREADS``, ``GUNICORN_TIMEOUT``,
``METRICS_PORT`` (Prometheus metrics of all workers, served by the master on that port
only: never on the public one).

Use: ``gunicorn -c python:crm_common.gunicorn_conf 'customer_service.app:create_app()'``."""
import glob
import os
import tempfile

# State the workers of this server share (the gateway's rate-limit counters without Redis):
# a directory of this master alone, made before any worker is forked.
_own_state_dir = not os.environ.get("CRM_SHARED_STATE_DIR")
if _own_state_dir:
    os.environ["CRM_SHARED_STATE_DIR"] = tempfile.mkdtemp(prefix="crm-shared-")

_metrics_port = int(os.environ.get("METRICS_PORT") or 0)
if _metrics_port and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    # Workers write their samples to files the master's metrics server aggregates; set
    # before any worker imports prometheus_client.
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="crm-prom-")

bind = os.environ.get("BIND") or f"{os.environ.get('HOST', '0.0.0.0')}:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
# gthread, answering gunicorn's own errors (414, 431, bad request lines) in the envelope
# The request line's 8190-byte limit is the app's (crm_common.web.install_input_checks), which
# knows the path and so answers 414 in that surface's envelope; gunicorn would refuse the line
# before it has a path. gunicorn still caps the line at 1 MiB (0 = its "unlimited").
limit_request_line = 0
worker_class = os.environ.get("GUNICORN_WORKER_CLASS") or "crm_common.gunicorn_worker.EnvelopeThreadWorker"
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "20"))
# Longer than the gateway keeps an idle upstream connection (UPSTREAM_MAX_IDLE_SECONDS, 30):
# the client side closes first, so no request is ever written into a closing connection.
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "75"))
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "0"))
max_requests_jitter = int(os.environ.get("GUNICORN_MAX_REQUESTS_JITTER", "0"))
# gunicorn's control socket defaults to one path per user: several servers on one host
# (tests, or a sidecar) would share it. Off unless a path is given.
_control = os.environ.get("GUNICORN_CONTROL_SOCKET")
if _control:
    control_socket = _control
else:
    control_socket_disable = True
accesslog = None  # the app logs each request as JSON with its trace id
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()


def on_starting(server):
    """Samples of a previous run of this server (same directory) would be added to ours."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        os.makedirs(directory, exist_ok=True)
        for path in glob.glob(os.path.join(directory, "*.db")):
            os.remove(path)


def when_ready(server):
    if _metrics_port:
        from crm_common.metrics import start_metrics_server
        start_metrics_server(_metrics_port)


def on_exit(server):
    if _own_state_dir:
        import shutil
        shutil.rmtree(os.environ["CRM_SHARED_STATE_DIR"], ignore_errors=True)


def child_exit(server, worker):  # keep multiprocess metrics of dead workers consistent
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess
        multiprocess.mark_process_dead(worker.pid)
