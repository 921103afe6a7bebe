"""Production server settings for ``make run`` (gunicorn). Override with VOTING_BIND / VOTING_WORKERS."""

import multiprocessing
import os

bind = os.environ.get("VOTING_BIND", "127.0.0.1:5000")
workers = int(os.environ.get("VOTING_WORKERS", multiprocessing.cpu_count()))
# gevent, one worker per core: the fastest sign-in burst measured, and it holds thousands of idle phone
# connections cheaply (docs/BENCHMARKS.md).
worker_class = os.environ.get("VOTING_WORKER_CLASS", "gevent")
worker_connections = 4000
backlog = 4096
keepalive = 30
timeout = 60
graceful_timeout = 20
accesslog = os.environ.get("VOTING_ACCESS_LOG") or None
errorlog = "-"
# No control socket: it lives at one path per user (~/.gunicorn/gunicorn.ctl), so a second server
# on the same machine (tests, benchmarks, another instance) would take it over.
control_socket_disable = True


def post_worker_init(worker):
    """Keep the garbage collector off what the app loaded: it lives as long as the worker."""
    # A full collection otherwise walks the ~143,000 objects of the loaded app (Flask,
    # SQLAlchemy, babel, pydantic): about 90 ms during which the worker answers nobody, once or
    # so per sign-in burst; frozen, it takes about 9 ms.
    import gc

    gc.freeze()


def post_request(worker, req, environ, resp):
    """Let other connections run after each request on a gevent worker."""
    # gevent switches greenlets only when a socket would block: a client that sends its next
    # request at once keeps its keep-alive connection's greenlet running and starves the rest.
    if worker_class == "gevent":
        import gevent

        gevent.sleep(0)
