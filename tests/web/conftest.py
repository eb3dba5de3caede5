"""The whole system in a real browser: a migrated database of its own, the API, the mail gateway,
the scheduler (jobs and the outbound sender) and the production build of the portal, each started
with the same `servicedesk ...` / `next start` commands that run in production, and Debian's
Chromium driven by Playwright (never `playwright install`: the browser is /usr/bin/chromium).

Every page a test opens records console errors and uncaught exceptions; a test fails if any
appear (React reports hydration mismatches there too). Screenshots go to web/test-results/.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import create_database, drop_database, run_migrations

PROJECT_DIR = Path(__file__).resolve().parents[2]
WEB_DIR = PROJECT_DIR / "web"
ARTIFACTS = WEB_DIR / "test-results"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
HELP_ADDRESS = "help@test.ac.kr"
RELAY_AUTHSERV_ID = "mx.test.ac.kr"
PASSWORD = "servicedesk"  # the demo password seed-demo sets
ADMIN = "admin@demo.ac.kr"
AGENT = "kim.agent@demo.ac.kr"
REQUESTER = "student@demo.ac.kr"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if str(item.path).startswith(str(Path(__file__).parent)):
            item.add_marker(pytest.mark.browser)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Process:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()


def start(name: str, argv: list[str], env: dict[str, str], logs: Path, cwd: Path) -> Process:
    log = logs / f"{name}.log"
    with log.open("wb") as out:
        popen = subprocess.Popen(argv, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
    return Process(name, popen, log)


def wait_until(check, what: str, process: Process | None = None, timeout: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.popen.poll() is not None:
            raise RuntimeError(f"{what}: process exited\n{process.tail()}")
        try:
            if check():
                return
        except (httpx.HTTPError, OSError):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{what}: not ready after {timeout}s\n{process.tail() if process else ''}")


# --- the outbound relay the sender delivers to: a real SMTP listener that keeps every mail ---


@dataclass
class MailCapture:
    port: int
    messages: list[EmailMessage] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def find(self, predicate, timeout: float = 30.0) -> EmailMessage:  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                for message in self.messages:
                    if predicate(message):
                        return message
            time.sleep(0.2)
        with self.lock:
            seen = [f"{m['To']}: {m['Subject']}" for m in self.messages]
        raise AssertionError(f"no captured mail matched after {timeout}s; captured: {seen}")


@pytest.fixture(scope="session")
def mail_capture() -> Iterator[MailCapture]:
    from aiosmtpd.controller import Controller

    capture = MailCapture(port=free_port())

    class Handler:
        async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
            message = message_from_bytes(envelope.content, policy=policy.default)
            with capture.lock:
                capture.messages.append(message)  # type: ignore[arg-type]
            return "250 2.0.0 captured"

    controller = Controller(Handler(), hostname="127.0.0.1", port=capture.port)
    controller.start()
    yield capture
    controller.stop()


# --- the system --------------------------------------------------------------------------------


@dataclass
class System:
    api_url: str
    web_url: str
    smtp_port: int
    env: dict[str, str]
    database_url: str
    processes: dict[str, Process]
    capture: MailCapture

    def api(self, email: str, password: str = PASSWORD) -> httpx.Client:
        """An API client signed in as `email` (bearer token), for arranging test data."""
        login = httpx.post(
            self.api_url + "/api/v1/auth/login",
            json={"email": email, "password": password},
            timeout=30,
        )
        login.raise_for_status()
        return httpx.Client(
            base_url=self.api_url + "/api/v1",
            headers={"Authorization": f"Bearer {login.json()['access_token']}"},
            timeout=30,
        )

    def send_mail(self, message: EmailMessage, sender: str) -> None:
        import smtplib

        with smtplib.SMTP("127.0.0.1", self.smtp_port, timeout=30) as smtp:
            smtp.send_message(message, from_addr=sender, to_addrs=[HELP_ADDRESS])


def ensure_web_build() -> None:
    if not (WEB_DIR / "node_modules" / ".bin" / "next").exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=WEB_DIR, check=True)
    if not (WEB_DIR / ".next" / "BUILD_ID").exists():
        env = {**os.environ, "NEXT_TELEMETRY_DISABLED": "1"}
        subprocess.run(["npm", "run", "build"], cwd=WEB_DIR, check=True, env=env)


@pytest.fixture(scope="session")
def system(
    test_server_url: str, tmp_path_factory: pytest.TempPathFactory, mail_capture: MailCapture
) -> Iterator[System]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (see system-deps.sh)")
    ensure_web_build()
    root = tmp_path_factory.mktemp("web-system")
    logs = root / "logs"
    logs.mkdir()
    database_url = create_database(test_server_url, prefix="sd_web")
    run_migrations(database_url)
    api_port, web_port, smtp_port = free_port(), free_port(), free_port()
    api_url, web_url = f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{web_port}"
    env = {
        **os.environ,
        "APP_ENV": "test",
        "DATABASE_URL": database_url,
        "JWT_SECRET": "browser-tests-" + "y" * 40,
        "APP_BASE_URL": web_url,
        "API_PUBLIC_URL": api_url,
        "CORS_ORIGINS": web_url,
        "STORAGE_BACKEND": "local",
        "LOCAL_UPLOAD_ROOT": str(root / "uploads"),
        "HELPDESK_ADDRESSES": HELP_ADDRESS,
        "MAILGATEWAY_HOST": "127.0.0.1",
        "MAILGATEWAY_PORT": str(smtp_port),
        # The test's SMTP client plays the campus relay: its Authentication-Results count.
        "MAILGATEWAY_TRUSTED_RELAYS": "127.0.0.1/32",
        "MAIL_AUTHSERV_ID": RELAY_AUTHSERV_ID,
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(mail_capture.port),
        "SMTP_FROM": f"IT Service Desk <{HELP_ADDRESS}>",
        "OUTBOX_SINK_DIR": str(root / "outbox"),
        "LOG_LEVEL": "INFO",
        "SCHEDULER_TICK_SECONDS": "1",
        # What the portal reads at request time (one build serves any port).
        "NEXT_PUBLIC_API_BASE_URL": api_url,
        "NEXT_TELEMETRY_DISABLED": "1",
    }
    seeded = subprocess.run(
        [sys.executable, "-m", "servicedesk", "seed-demo"],
        env=env,
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    assert seeded.returncode == 0, seeded.stderr

    processes: dict[str, Process] = {}
    servicedesk = [sys.executable, "-m", "servicedesk"]
    try:
        processes["api"] = start(
            "api",
            [*servicedesk, "api", "--host", "127.0.0.1", "--port", str(api_port)],
            env,
            logs,
            root,
        )
        processes["mailgateway"] = start(
            "mailgateway", [*servicedesk, "mailgateway"], env, logs, root
        )
        # The scheduler runs the jobs (and "run now" requests) and the outbound sender loop.
        processes["scheduler"] = start("scheduler", [*servicedesk, "scheduler"], env, logs, root)
        processes["web"] = start(
            "web",
            [
                str(WEB_DIR / "node_modules" / ".bin" / "next"),
                "start",
                "-p",
                str(web_port),
                "-H",
                "127.0.0.1",
            ],
            env,
            logs,
            WEB_DIR,
        )
        wait_until(
            lambda: httpx.get(api_url + "/readyz").status_code == 200, "api", processes["api"]
        )
        wait_until(
            lambda: httpx.get(web_url + "/login").status_code == 200, "web", processes["web"]
        )

        def smtp_answers() -> bool:
            with socket.create_connection(("127.0.0.1", smtp_port), timeout=2) as s:
                return s.recv(100).startswith(b"220")

        wait_until(smtp_answers, "mailgateway", processes["mailgateway"])
        yield System(api_url, web_url, smtp_port, env, database_url, processes, mail_capture)
    finally:
        for process in reversed(list(processes.values())):
            process.stop()
        if os.environ.get("KEEP_WEB_LOGS"):
            shutil.copytree(logs, ARTIFACTS / "logs", dirs_exist_ok=True)
        drop_database(database_url)


# --- the browser -------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


@dataclass
class PageProblems:
    errors: list[str] = field(default_factory=list)
    allowed: list[re.Pattern[str]] = field(default_factory=list)

    def allow(self, pattern: str) -> None:
        self.allowed.append(re.compile(pattern))

    def unexpected(self) -> list[str]:
        return [e for e in self.errors if not any(p.search(e) for p in self.allowed)]


# Before sign-in the portal asks the API who is signed in; the API's 401 shows in Chrome's console
# as a failed resource load. That one answer is expected; nothing else is.
EXPECTED_BEFORE_SIGN_IN = r"status of 401 \(Unauthorized\) \S+/api/v1/auth/me$"


def failed_request(status: int, path_pattern: str) -> str:
    """A console pattern for one expected failed API request (Chrome logs every 4xx)."""
    return rf"status of {status} \(.*\) \S+/api/v1/{path_pattern}$"


# A mail's HTML runs in a sandboxed srcdoc frame with a strict CSP: what the frame blocks (scripts,
# handlers, forms, remote images) Chrome reports from "about:srcdoc". Those reports are the frame
# doing its job on the mail's content, not errors of the portal.
BLOCKED_IN_MAIL_FRAME = r" about:srcdoc$"


@pytest.fixture
def problems() -> PageProblems:
    found = PageProblems()
    found.allow(EXPECTED_BEFORE_SIGN_IN)
    found.allow(BLOCKED_IN_MAIL_FRAME)
    return found


def watch(page: Any, problems: PageProblems) -> Any:
    def on_console(message: Any) -> None:
        if message.type in ("error", "warning") and not message.text.startswith("[Fast Refresh]"):
            url = (message.location or {}).get("url", "")
            problems.errors.append(f"console.{message.type}: {message.text} {url}".strip())

    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.errors.append(f"pageerror: {error}"))
    return page


@pytest.fixture
def new_page(browser: Any, system: System, problems: PageProblems) -> Iterator[Any]:
    """Opens a page in a fresh browser profile (its own cookies); `new_page(locale=...)`."""
    contexts: list[Any] = []

    def open_page(**options: Any) -> Any:
        context = browser.new_context(
            base_url=system.web_url, viewport={"width": 1360, "height": 900}, **options
        )
        context.set_default_timeout(15_000)
        contexts.append(context)
        return watch(context.new_page(), problems)

    yield open_page
    for context in contexts:
        context.close()
    assert problems.unexpected() == [], "console errors or uncaught exceptions in the browser"


def screenshot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def sign_in(page: Any, email: str, password: str = PASSWORD) -> None:
    page.goto("/login")
    page.fill("#email", email)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/login" not in url)
