"""Production serving (`make serve`): nginx in front of gunicorn, started and stopped together.

    python -m convoscope.serve

nginx listens on CONVOSCOPE_BIND (default 127.0.0.1:8000) and reads each request whole, within
CONVOSCOPE_CLIENT_TIMEOUT seconds of silence, before passing it to gunicorn over a Unix socket
in a private run directory; see convoscope/nginx.conf.template for why. gunicorn keeps its own
settings (gunicorn.conf.py). If either process dies, the other is stopped and the exit status
is non-zero, so a supervisor (systemd, a container runtime) restarts the pair.

CONVOSCOPE_PROXY=off starts gunicorn alone on CONVOSCOPE_BIND, for a deployment that already
has its own buffering proxy (an ingress, a load balancer that buffers requests).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TEMPLATE = Path(__file__).with_name("nginx.conf.template")
ROOT = Path(__file__).resolve().parent.parent


def env(name: str, default: str) -> str:
    return os.environ.get(name, "").strip() or default


def positive_int(name: str, default: int) -> int:
    raw = env(name, str(default))
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value <= 0:
        raise SystemExit(f"{name} must be a positive whole number, not {raw!r}")
    return value


def num_proxies() -> int:
    """Proxies in front of gunicorn: nginx, plus any the operator puts in front of it."""
    return positive_int("CONVOSCOPE_NUM_PROXIES", 1)


def nginx_config(run_dir: Path, *, listen: str) -> str:
    """The nginx configuration for this environment, from the template."""
    access_log = "/dev/stdout" if env("GUNICORN_ACCESS_LOG", "") else "off"
    values = {
        "RUN_DIR": str(run_dir),
        "LISTEN": listen,
        "NGINX_WORKERS": str(positive_int("CONVOSCOPE_NGINX_WORKERS", 1)),
        "CLIENT_TIMEOUT": str(positive_int("CONVOSCOPE_CLIENT_TIMEOUT", 10)),
        "UPSTREAM_TIMEOUT": str(positive_int("CONVOSCOPE_UPSTREAM_TIMEOUT", 60)),
        "MAX_BODY_BYTES": str(positive_int("CONVOSCOPE_MAX_BODY_BYTES", 32 * 1024 * 1024)),
        "FORWARDED_PROTO": env("CONVOSCOPE_FORWARDED_PROTO", "$scheme"),
        "FORWARDED_FOR": "$remote_addr" if num_proxies() == 1 else "$proxy_add_x_forwarded_for",
        "ACCESS_LOG": access_log,
        # As root, nginx's workers would switch to `nobody`, who cannot reach the private run
        # directory; they run as the user who started the server instead.
        "USER_DIRECTIVE": f"user {_user_name()};" if os.geteuid() == 0 else "",
    }
    text = TEMPLATE.read_text()
    for name, value in values.items():
        text = text.replace(f"@{name}@", value)
    return text


def _user_name() -> str:
    import pwd

    return pwd.getpwuid(os.geteuid()).pw_name


def gunicorn_command(bind: str) -> list[str]:
    return [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py"), "--bind", bind,
            "convoscope.wsgi"]


def main() -> int:
    listen = env("CONVOSCOPE_BIND", "127.0.0.1:8000")
    if env("CONVOSCOPE_PROXY", "on").lower() in {"off", "0", "no", "false"}:
        os.execv(sys.executable, gunicorn_command(listen))
    nginx = shutil.which("nginx") or next(
        (path for path in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(path, os.X_OK)), None)
    if nginx is None:
        raise SystemExit("nginx is not installed (Debian: apt-get install nginx-light); "
                         "or set CONVOSCOPE_PROXY=off to serve with gunicorn alone behind your own proxy")
    run_dir = Path(tempfile.mkdtemp(prefix="convoscope-serve-"))
    try:
        (run_dir / "nginx.conf").write_text(nginx_config(run_dir, listen=listen))
        socket = run_dir / "gunicorn.sock"
        # Every request now comes from nginx, which puts the client's address in X-Forwarded-For:
        # the login throttle counts that address, not nginx's (dashboard/login.py).
        app_env = {**os.environ, "CONVOSCOPE_NUM_PROXIES": str(num_proxies())}
        app = subprocess.Popen(gunicorn_command(f"unix:{socket}"), cwd=ROOT, env=app_env)
        proxy = None
        if _wait_for_socket(socket, app):
            proxy = subprocess.Popen([nginx, "-e", "stderr", "-p", str(run_dir), "-c", str(run_dir / "nginx.conf")])
        return _supervise(app, proxy)
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)


def _wait_for_socket(socket: Path, app: subprocess.Popen, timeout: float = 60) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if socket.exists():
            return True
        if app.poll() is not None:
            return False
        time.sleep(0.05)
    return False


def _supervise(app: subprocess.Popen, proxy: subprocess.Popen | None) -> int:
    """Run until a signal or until either process exits; then stop both (nginx first, so no new
    request reaches a stopping gunicorn) and return the first failure's status."""
    children = [child for child in (proxy, app) if child is not None]
    stopping = {"signal": None}

    def stop(signum, _frame):
        stopping["signal"] = signum

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, stop)
    status = 0 if proxy is not None else 1
    while stopping["signal"] is None and proxy is not None:
        exited = [child for child in children if child.poll() is not None]
        if exited:
            status = exited[0].returncode or 1
            break
        time.sleep(0.2)
    for child in children:
        if child.poll() is None:
            # nginx: SIGQUIT finishes the requests in flight; gunicorn: SIGTERM is its graceful stop.
            child.send_signal(signal.SIGQUIT if child is proxy else signal.SIGTERM)
            try:
                child.wait(timeout=25)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
    return status


if __name__ == "__main__":
    sys.exit(main())
