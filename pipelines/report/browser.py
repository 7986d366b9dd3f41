"""Headless Chromium driven over its DevTools pipe: many PDFs and screenshots from one browser start.

Starting Chromium costs about a second; printing a letter through the already running
browser costs a fraction of that, so one ``Browser`` prints every letter of a run. The
DevTools protocol runs over ``--remote-debugging-pipe`` (file descriptors 3 and 4, messages
separated by NUL): no port, no network. Every request the pages make is recorded, so a test
can show a page loaded nothing from the network.
"""

from __future__ import annotations

import base64
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-extensions", "--disable-default-apps",
    "--mute-audio", "--hide-scrollbars", "--font-render-hinting=none",
    # nothing leaves the machine: every http(s) request goes to a closed local port
    "--proxy-server=http://127.0.0.1:9", "--proxy-bypass-list=<-loopback>",
]


class BrowserError(RuntimeError):
    """Chromium is missing, failed to start, or did not answer in time."""


def find_chromium() -> str | None:
    """Path of a Chromium (or Chrome) executable, or None."""
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


class Browser:
    """One headless Chromium; use as a context manager."""

    def __init__(self, executable: str | None = None, timeout: float = 60.0):
        self.executable = executable or find_chromium()
        if not self.executable:
            raise BrowserError("headless Chromium is not installed (Debian: apt-get install chromium fonts-wqy-microhei; `make system-deps`)")
        self.timeout = timeout
        self.requests: list[str] = []
        self._id = 0
        self._buffer = b""
        self._events: list[dict] = []

    # ---- process ------------------------------------------------------------------------------
    def __enter__(self) -> Browser:
        self._profile = tempfile.mkdtemp(prefix="xxgk-chromium-")
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()

        def wire():  # in the child: its fd 3 reads our messages, fd 4 writes its answers
            a, b = os.dup(to_child_r), os.dup(from_child_w)
            os.dup2(a, 3)
            os.dup2(b, 4)
            os.set_inheritable(3, True)
            os.set_inheritable(4, True)

        self._proc = subprocess.Popen(
            [self.executable, *FLAGS, "--remote-debugging-pipe", f"--user-data-dir={self._profile}", "about:blank"],
            preexec_fn=wire, close_fds=False, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        os.close(to_child_r)
        os.close(from_child_w)
        try:
            target = self._call("Target.createTarget", {"url": "about:blank"})["targetId"]
            self._session = self._call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
            self._call("Page.enable", session=True)
            self._call("Network.enable", session=True)
        except Exception:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc) -> None:
        try:
            if self._proc.poll() is None:
                self._send("Browser.close")
                self._proc.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired, BrowserError):
            self._proc.kill()
            self._proc.wait()
        finally:
            for fd in (self._to_child, self._from_child):
                try:
                    os.close(fd)
                except OSError:
                    pass
            shutil.rmtree(self._profile, ignore_errors=True)

    # ---- protocol -----------------------------------------------------------------------------
    def _send(self, method: str, params: dict | None = None, session: bool = False) -> int:
        self._id += 1
        msg = {"id": self._id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = self._session
        try:
            os.write(self._to_child, json.dumps(msg).encode() + b"\0")
        except OSError as exc:
            raise BrowserError(f"Chromium stopped ({exc})") from exc
        return self._id

    def _receive(self, deadline: float) -> dict:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([self._from_child], [], [], max(left, 0))
            if not ready:
                raise BrowserError(f"Chromium did not answer within {self.timeout:.0f} s")
            chunk = os.read(self._from_child, 1 << 20)
            if not chunk:
                raise BrowserError("Chromium closed the DevTools pipe")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        msg = json.loads(message)
        if msg.get("method") == "Network.requestWillBeSent":
            self.requests.append(msg["params"]["request"]["url"])
        return msg

    def _call(self, method: str, params: dict | None = None, session: bool = False) -> dict:
        wanted = self._send(method, params, session)
        deadline = time.monotonic() + self.timeout
        while True:
            msg = self._receive(deadline)
            if msg.get("id") == wanted:
                if "error" in msg:
                    raise BrowserError(f"{method}: {msg['error'].get('message')}")
                return msg.get("result", {})
            if "method" in msg:
                self._events.append(msg)

    def _wait_event(self, method: str) -> dict:
        deadline = time.monotonic() + self.timeout
        while True:
            for k, event in enumerate(self._events):
                if event["method"] == method:
                    return self._events.pop(k)
            msg = self._receive(deadline)
            if "method" in msg:
                self._events.append(msg)

    # ---- pages --------------------------------------------------------------------------------
    def open(self, path_or_url: str | Path) -> None:
        """Load a page (a file path or URL) and wait until it has loaded."""
        url = path_or_url if isinstance(path_or_url, str) and "://" in path_or_url else Path(path_or_url).resolve().as_uri()
        self._events.clear()
        self._call("Page.navigate", {"url": url}, session=True)
        self._wait_event("Page.loadEventFired")

    def evaluate(self, expression: str):
        """The value of a JavaScript expression in the loaded page."""
        result = self._call("Runtime.evaluate", {"expression": expression, "returnByValue": True}, session=True)
        return result.get("result", {}).get("value")

    def text(self) -> str:
        """The rendered text of the loaded page (what a reader sees)."""
        return self.evaluate("document.body.innerText") or ""

    def pdf(self, source: str | Path, target: Path) -> Path:
        """Print a page to PDF with its print stylesheet (A4 unless the page sets @page size)."""
        self.open(source)
        data = self._call("Page.printToPDF", {"printBackground": True, "preferCSSPageSize": True}, session=True)["data"]
        target = Path(target)
        tmp = target.with_name(target.name + ".tmp")
        tmp.write_bytes(base64.b64decode(data))
        tmp.replace(target)
        return target

    def screenshot(self, source: str | Path, target: Path, width: int = 1280, height: int = 1600) -> Path:
        """A PNG of the top ``height`` pixels of a page at ``width`` pixels."""
        self._call("Emulation.setDeviceMetricsOverride",
                   {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False}, session=True)
        self.open(source)
        data = self._call("Page.captureScreenshot", {"format": "png"}, session=True)["data"]
        Path(target).write_bytes(base64.b64decode(data))
        return Path(target)
