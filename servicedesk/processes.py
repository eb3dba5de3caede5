"""The processes `servicedesk run` supervises, and the foreground supervisor itself.

Each process is started with the same `servicedesk <name>` command the compose file and the tests
use, so what is tested is what runs.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from core.config import Settings

PROJECT_DIR = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class ProcessSpec:
    name: str
    argv: Callable[[Settings], list[str]]
    available: Callable[[], bool] = lambda: True
    # False: started only when named (`servicedesk run --only mailworker`), not by default.
    default: bool = True


def _servicedesk(*args: str) -> list[str]:
    return [sys.executable, "-m", "servicedesk", *args]


def _web_available() -> bool:
    """The portal runs when it has been built (`make install` runs `npm ci` and `next build`)."""
    return (PROJECT_DIR / "web" / ".next" / "BUILD_ID").exists()


def _web_argv(settings: Settings) -> list[str]:
    next_bin = PROJECT_DIR / "web" / "node_modules" / ".bin" / "next"
    # The portal reads the API's browser-facing address at request time (web/lib/runtime-config.ts);
    # hand it the one Settings has (from the environment or .env), which the web process can't read.
    api = f"NEXT_PUBLIC_API_BASE_URL={settings.next_public_api_base_url}"
    serve = [str(next_bin), "start", "-p", str(settings.web_port), "-H", "0.0.0.0"]  # noqa: S104
    return ["env", api, *serve]


PROCESSES: dict[str, ProcessSpec] = {
    "api": ProcessSpec("api", lambda s: _servicedesk("api", "--port", str(s.api_port))),
    "mailgateway": ProcessSpec("mailgateway", lambda s: _servicedesk("mailgateway")),
    "mailworker": ProcessSpec("mailworker", lambda s: _servicedesk("mailworker"), default=False),
    "scheduler": ProcessSpec("scheduler", lambda s: _servicedesk("scheduler")),
    "web": ProcessSpec("web", _web_argv, available=_web_available),
    # The scheduler runs the sender loop itself; this is extra sending capacity, named explicitly.
    "mailsender": ProcessSpec("mailsender", lambda s: _servicedesk("mailsender"), default=False),
}


def available_processes() -> list[str]:
    return [name for name, spec in PROCESSES.items() if spec.default and spec.available()]


def supervise(names: list[str], settings: Settings, *, env: dict[str, str] | None = None) -> int:
    """Start every named process; stop them all on Ctrl-C/SIGTERM; non-zero if one dies."""
    children: dict[str, subprocess.Popen[bytes]] = {}
    stopping = False

    def request_stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    exit_code = 0
    try:
        for name in names:
            spec = PROCESSES[name]
            cwd = PROJECT_DIR / "web" if name == "web" else None
            children[name] = subprocess.Popen(  # noqa: S603 - argv from the process table
                spec.argv(settings), env={**os.environ, **(env or {})}, cwd=cwd
            )
            print(f"[servicedesk] started {name} (pid {children[name].pid})", flush=True)
        while not stopping:
            for name, child in children.items():
                code = child.poll()
                if code is not None:
                    print(f"[servicedesk] {name} exited with {code}; stopping the rest", flush=True)
                    exit_code = code or 1
                    stopping = True
                    break
            time.sleep(0.5)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        _stop_all(children)
    return exit_code


def _stop_all(children: dict[str, subprocess.Popen[bytes]], grace: float = 10.0) -> None:
    for child in children.values():
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace
    for name, child in children.items():
        remaining = max(0.1, deadline - time.monotonic())
        try:
            child.wait(timeout=remaining)
        except subprocess.TimeoutExpired:
            print(f"[servicedesk] {name} did not stop in time; killing it", flush=True)
            child.kill()
            child.wait()
