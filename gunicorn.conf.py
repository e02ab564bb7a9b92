"""gunicorn settings for production (`make serve`). Override any of them with GUNICORN_CMD_ARGS.

Requests are short and mostly wait on the database, so each worker process runs a few
threads (gthread): workers = cores, threads = 4 gives 8 concurrent requests on this 2-core
machine. Each thread keeps its own persistent, health-checked PostgreSQL connection
(CONN_MAX_AGE in settings), so no request pays for a new connection.
"""

import multiprocessing
import os

bind = os.environ.get("CONVOSCOPE_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count()))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", 4))
timeout = 30
graceful_timeout = 20
keepalive = 5
max_requests = 10000  # recycle workers now and then (bounded memory growth)
max_requests_jitter = 1000
# nginx (convoscope/serve.py) refuses request lines and headers over 8 KiB in the API's error
# shape; gunicorn's own limits sit just above, so they never answer first.
limit_request_line = 8190
limit_request_field_size = 8190
# No runtime control socket: it would be one path (~/.gunicorn) shared by every server on the host.
control_socket_disable = True
accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None
errorlog = "-"
