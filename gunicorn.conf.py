"""Production server settings for ``make run`` (gunicorn). Override with VOTING_BIND / VOTING_WORKERS."""

import multiprocessing
import os

bind = os.environ.get("VOTING_BIND", "127.0.0.1:5000")
workers = int(os.environ.get("VOTING_WORKERS", multiprocessing.cpu_count()))
# gevent workers hold thousands of idle phone connections cheaply (see docs/BENCHMARKS.md).
worker_class = os.environ.get("VOTING_WORKER_CLASS", "gevent")
worker_connections = 4000
backlog = 4096
keepalive = 30
timeout = 60
graceful_timeout = 20
accesslog = os.environ.get("VOTING_ACCESS_LOG") or None
errorlog = "-"
# Behind a reverse proxy on the same host, trust its X-Forwarded-* headers.
forwarded_allow_ips = os.environ.get("VOTING_FORWARDED_ALLOW_IPS", "127.0.0.1")
