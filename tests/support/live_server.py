"""The real server in a subprocess: gunicorn started as ``make run`` starts it, on a database of the test's."""

import contextlib
import os
import signal
import socket
import subprocess
import time
from http.client import HTTPConnection
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = ROOT / ".venv" / "bin"


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_env(tmp, port, database_url, **settings):
    """The environment of a server on ``database_url``: only the settings given here, none of the developer's."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("VOTING_") and k not in ("DATABASE_URL", "TEST_DATABASE_URL")
    }
    env.update(
        {
            "DATABASE_URL": database_url,
            "VOTING_BIND": f"127.0.0.1:{port}",
            "VOTING_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
            "VOTING_WORKERS": "2",
            "XDG_RUNTIME_DIR": str(tmp),
            "FLASK_APP": "wsgi",
        }
    )
    env.update({f"VOTING_{key}": str(value) for key, value in settings.items()})
    return env


def start_gunicorn(env, log_path):
    """Start ``gunicorn --config gunicorn.conf.py wsgi:app`` in its own process group."""
    if not (VENV_BIN / "gunicorn").exists():
        pytest.skip(f"{VENV_BIN / 'gunicorn'} is missing: run `make test` to set up the virtualenv")
    with Path(log_path).open("ab") as log:
        return subprocess.Popen(
            [str(VENV_BIN / "gunicorn"), "--config", "gunicorn.conf.py", "wsgi:app"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def wait_until_up(proc, port, log_path, timeout=30):
    """Wait until /api/v1/ping answers 200, or fail with the end of the server's log."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"gunicorn exited with {proc.returncode}:\n{Path(log_path).read_text()[-3000:]}")
        connection = HTTPConnection("127.0.0.1", port, timeout=2)
        try:
            connection.request("GET", "/api/v1/ping")
            if connection.getresponse().status == 200:
                return
        except (ConnectionError, TimeoutError):
            pass
        finally:
            connection.close()
        time.sleep(0.1)
    pytest.fail(f"gunicorn did not answer /api/v1/ping within {timeout} s:\n{Path(log_path).read_text()[-3000:]}")


def stop(proc):
    """Quick shutdown (SIGINT): the pages' keep-alive polls need not drain."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            kill_hard(proc)


def kill_hard(proc):
    """SIGKILL the master and every worker at once, as a power cut or the OOM killer would."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
