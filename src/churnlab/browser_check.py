"""Open every report of a run in headless Chromium as a stakeholder would, and say what is wrong.

For each report the check loads the page at a 1,400 px wide window and fails on what a reader
would hit: console errors (a script error, a resource the Content-Security-Policy refused, a file
that did not load), broken images, and horizontal overflow (a page wider than the window, or a
table or figure wider than its box so that part of it is cut off or hidden behind a scroll bar).
It also records the page title (a report whose title changed ran a script) and any dialog
(``alert``) a page opened. A full-page screenshot of each report goes to ``<run>/screenshots/``.

Chromium is driven through its DevTools protocol over a pipe (``--remote-debugging-pipe``: JSON
messages separated by NUL bytes on file descriptors 3 and 4), so nothing beyond Debian's
``chromium`` package is needed: no Playwright, no driver download, no open port. Evaluation
through the protocol is not subject to the page's policy, so the checks run even though the
report itself allows no script.

Run it as ``make report-check`` (newest run), ``make report-check RUN=<name>`` or
``python -m churnlab.browser_check [RUN]``; it exits 1 when a report fails.
"""

from __future__ import annotations

import base64
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from churnlab.errors import ChurnlabError

__all__ = ["BROWSER_FLAGS", "PageCheck", "RunCheck", "check_page", "check_run", "find_browser", "main"]

#: Window width of the check (OPINIONS.md, "Report check at 1,400 px"): a laptop browser window.
WIDTH = 1400
#: Height of the window; the screenshot covers the whole page up to :data:`MAX_SCREENSHOT_HEIGHT`.
HEIGHT = 900
MAX_SCREENSHOT_HEIGHT = 16_000
#: Flags for headless Chromium on a container without a display, GPU or sandbox user namespace;
#: the background services are off so that a check makes no network request of its own.
BROWSER_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-extensions", "--disable-default-apps", "--mute-audio", "--remote-debugging-pipe")
_CANDIDATES = ("/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome", "google-chrome-stable")

#: Measures a loaded page: title, size, broken images and boxes whose content is wider than they are.
_MEASURE = r"""
(() => {
  const doc = document.documentElement;
  const where = (el) => {
    const h = document.evaluate('preceding::*[self::h1 or self::h2 or self::h3][1]', el, null,
                                XPathResult.FIRST_ORDERED_NODE_TYPE, null).singleNodeValue;
    const cls = (el.getAttribute('class') || '').split(/\s+/).filter(Boolean)[0];
    const what = el.tagName.toLowerCase() + (cls ? '.' + cls : '');
    return what + (h ? ' under "' + h.textContent.trim().replace(/¶$/, '').slice(0, 60) + '"' : ' before any heading');
  };
  const broken = [];
  for (const img of document.images) {
    if (!img.complete || img.naturalWidth === 0) {
      broken.push(where(img) + ' src=' + (img.getAttribute('src') || '').slice(0, 40));
    }
  }
  const boxes = [];
  const seen = new Set();
  for (const el of document.querySelectorAll('body *')) {
    if (el.clientWidth === 0 || el.scrollWidth <= el.clientWidth + 1) continue;
    const ox = getComputedStyle(el).overflowX;
    if (!['auto', 'scroll', 'hidden', 'clip'].includes(ox)) continue;
    let p = el.parentElement, nested = false;
    while (p) { if (seen.has(p)) { nested = true; break; } p = p.parentElement; }
    seen.add(el);
    const t = el.querySelector('table');
    const held = t && t.rows.length ? ' (a table of ' + t.rows[t.rows.length - 1].cells.length + ' columns)' : '';
    const size = ': content ' + el.scrollWidth + ' px in a ' + el.clientWidth + ' px box';
    if (!nested) boxes.push(where(el) + held + size);
  }
  return {title: document.title, scrollWidth: doc.scrollWidth, clientWidth: doc.clientWidth,
          height: Math.max(doc.scrollHeight, document.body ? document.body.scrollHeight : 0),
          broken: broken, boxes: boxes};
})()
"""


@dataclass(frozen=True)
class PageCheck:
    """What a reader of one report would hit, as measured in the browser.

    Attributes
    ----------
    report : Path
        The HTML file.
    title : str
        ``document.title`` after load (a changed title means a script ran).
    console_errors, broken_images, overflow, dialogs : tuple of str
        One line each: the console message; the image and the section it is in; the page or box that
        is wider than its room and by how much; the text of any dialog the page opened.
    page_width : int
        The document's width in px at the check's window width.
    screenshot : Path or None
        The full-page PNG (cut at :data:`MAX_SCREENSHOT_HEIGHT` px).
    """

    report: Path
    title: str
    console_errors: tuple[str, ...] = ()
    broken_images: tuple[str, ...] = ()
    overflow: tuple[str, ...] = ()
    dialogs: tuple[str, ...] = ()
    page_width: int = 0
    screenshot: Path | None = None

    @property
    def ok(self) -> bool:
        """True when the page has no console error, broken image, overflow or dialog."""
        return not (self.console_errors or self.broken_images or self.overflow or self.dialogs)

    @property
    def problems(self) -> list[str]:
        """Every problem as one line, prefixed by its kind."""
        return ([f"console error: {m}" for m in self.console_errors]
                + [f"broken image: {m}" for m in self.broken_images]
                + [f"overflow: {m}" for m in self.overflow]
                + [f"dialog: {m}" for m in self.dialogs])

    def __str__(self) -> str:
        head = f"{'ok  ' if self.ok else 'FAIL'} {self.report.name}"
        shot = f" (screenshot {self.screenshot})" if self.screenshot else ""
        return head + shot + "".join(f"\n     {p}" for p in self.problems)


@dataclass(frozen=True)
class RunCheck:
    """The browser check of every report of one run folder."""

    folder: Path
    pages: tuple[PageCheck, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        """True when every page passed."""
        return all(p.ok for p in self.pages)

    def __str__(self) -> str:
        failed = sum(not p.ok for p in self.pages)
        verdict = "passed" if self.ok else f"{failed} of {len(self.pages)} report(s) failed"
        lines = [str(p) for p in self.pages]
        return "\n".join([*lines, f"browser check of {self.folder.name} at {WIDTH} px: {verdict}"])


def find_browser() -> str | None:
    """Return the Chromium executable to use, or None when none is installed.

    ``CHURNLAB_CHROMIUM`` names one explicitly; otherwise Debian's ``/usr/bin/chromium`` and the usual
    names on ``PATH`` are tried.
    """
    explicit = os.environ.get("CHURNLAB_CHROMIUM")
    if explicit:
        return explicit if shutil.which(explicit) or Path(explicit).is_file() else None
    for name in _CANDIDATES:
        found = shutil.which(name) if not name.startswith("/") else (name if Path(name).is_file() else None)
        if found:
            return found
    return None


class _Chromium:
    """One headless Chromium spoken to over the DevTools pipe; a context manager that always stops it."""

    def __init__(self, executable: str, *, timeout: float = 60.0):
        self.executable = executable
        self.timeout = timeout
        self._next_id = 0
        self._buffer = b""
        self.events: list[dict[str, Any]] = []

    def __enter__(self) -> _Chromium:
        self._profile = tempfile.mkdtemp(prefix="churnlab-chromium-")
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()

        def _pipes_on_3_and_4() -> None:  # runs in the child between fork and exec
            a, b = os.dup(to_child_r), os.dup(from_child_w)  # fresh numbers above both targets
            os.dup2(a, 3)
            os.dup2(b, 4)

        cmd = [self.executable, *BROWSER_FLAGS, f"--user-data-dir={self._profile}",
               f"--window-size={WIDTH},{HEIGHT}", "about:blank"]
        self._log = open(Path(self._profile) / "chromium.log", "wb")  # a file: a full pipe would block Chromium
        try:
            self._proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self._log, stderr=self._log,
                                          preexec_fn=_pipes_on_3_and_4, pass_fds=(3, 4), start_new_session=True)
        except OSError as exc:
            self._log.close()
            shutil.rmtree(self._profile, ignore_errors=True)
            raise ChurnlabError(f"browser check: cannot start {self.executable}: {exc}") from exc
        finally:
            os.close(to_child_r)
            os.close(from_child_w)
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if self._proc.poll() is None:
                try:
                    self.call("Browser.close", timeout=10)
                except ChurnlabError:
                    pass
                try:
                    self._proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self._proc.kill()  # our own child, by its pid
                    self._proc.wait(timeout=10)
        finally:
            for fd in (self._to_child, self._from_child):
                try:
                    os.close(fd)
                except OSError:
                    pass
            self._log.close()
            shutil.rmtree(self._profile, ignore_errors=True)

    def _read(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise ChurnlabError(f"browser check: Chromium did not answer within {self.timeout:.0f} s")
            ready, _, _ = select.select([self._from_child], [], [], min(left, 1.0))
            if not ready:
                if self._proc.poll() is not None:
                    err = (Path(self._profile) / "chromium.log").read_bytes().decode(errors="replace")[-400:]
                    raise ChurnlabError(f"browser check: Chromium exited with {self._proc.returncode}: {err.strip()}")
                continue
            chunk = os.read(self._from_child, 1 << 20)
            if not chunk:
                raise ChurnlabError("browser check: Chromium closed its DevTools pipe")
            self._buffer += chunk
        raw, _, self._buffer = self._buffer.partition(b"\0")
        return json.loads(raw)

    def call(self, method: str, params: dict[str, Any] | None = None, *, session: str | None = None,
             timeout: float | None = None) -> dict[str, Any]:
        """Send one protocol command and return its result; events that arrive meanwhile are kept."""
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._to_child, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            reply = self._read(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise ChurnlabError(f"browser check: {method} failed: {reply['error'].get('message')}")
                return reply.get("result", {})
            self._on_event(reply)

    def _on_event(self, event: dict[str, Any]) -> None:
        self.events.append(event)
        if event.get("method") == "Page.javascriptDialogOpening":  # never leave a page blocked on alert()
            os.write(self._to_child, json.dumps({"id": 0, "method": "Page.handleJavaScriptDialog",
                                                 "params": {"accept": True},
                                                 "sessionId": event.get("sessionId")}).encode() + b"\0")

    def wait_for(self, method: str, session: str) -> None:
        """Read events until ``method`` arrives for ``session``."""
        deadline = time.monotonic() + self.timeout
        if any(e.get("method") == method and e.get("sessionId") == session for e in self.events):
            return
        while True:
            event = self._read(deadline)
            if "id" not in event:
                self._on_event(event)
                if event.get("method") == method and event.get("sessionId") == session:
                    return


def _console_errors(events: Sequence[dict[str, Any]], session: str) -> list[str]:
    out = []
    for e in events:
        if e.get("sessionId") != session:
            continue
        p = e.get("params", {})
        if e.get("method") == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            out.append(" ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", [])))
        elif e.get("method") == "Runtime.exceptionThrown":
            d = p.get("exceptionDetails", {})
            out.append(d.get("exception", {}).get("description") or d.get("text", "exception"))
        elif e.get("method") == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
            entry = p["entry"]
            out.append(entry.get("text", "") + (f" ({entry['url'][:80]})" if entry.get("url") else ""))
    return out


def _check_one(browser: _Chromium, report: Path, screenshot: Path | None) -> PageCheck:
    target = browser.call("Target.createTarget", {"url": "about:blank"})["targetId"]
    session = browser.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
    try:
        for domain in ("Page.enable", "Runtime.enable", "Log.enable"):
            browser.call(domain, session=session)
        browser.call("Emulation.setDeviceMetricsOverride",
                     {"width": WIDTH, "height": HEIGHT, "deviceScaleFactor": 1, "mobile": False}, session=session)
        nav = browser.call("Page.navigate", {"url": report.resolve().as_uri()}, session=session)
        if nav.get("errorText"):
            return PageCheck(report=report, title="", console_errors=(f"could not open: {nav['errorText']}",))
        browser.call("Page.getFrameTree", session=session)  # flushes events sent before the load
        browser.wait_for("Page.loadEventFired", session)
        time.sleep(0.2)  # late console messages (a failed image decode) arrive just after load
        browser.call("Runtime.evaluate", {"expression": "1"}, session=session)
        m = browser.call("Runtime.evaluate", {"expression": _MEASURE, "returnByValue": True},
                         session=session)["result"]["value"]
        overflow = list(m["boxes"])
        if m["scrollWidth"] > m["clientWidth"]:
            overflow.insert(0, f"page {m['scrollWidth']:,} px wide in a {m['clientWidth']:,} px window")
        shot = None
        if screenshot is not None:
            height = min(int(m["height"]) or HEIGHT, MAX_SCREENSHOT_HEIGHT)
            data = browser.call("Page.captureScreenshot", {
                "format": "png", "captureBeyondViewport": True,
                "clip": {"x": 0, "y": 0, "width": max(WIDTH, int(m["scrollWidth"])), "height": height, "scale": 1}},
                session=session)["data"]
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            screenshot.write_bytes(base64.b64decode(data))
            shot = screenshot
        dialogs = [e["params"].get("message", "") for e in browser.events
                   if e.get("sessionId") == session and e.get("method") == "Page.javascriptDialogOpening"]
        errors = tuple(_console_errors(browser.events, session))
        return PageCheck(report=report, title=m["title"], console_errors=errors,
                         broken_images=tuple(m["broken"]), overflow=tuple(overflow), dialogs=tuple(dialogs),
                         page_width=int(m["scrollWidth"]), screenshot=shot)
    finally:
        browser.call("Target.closeTarget", {"targetId": target})


def _browser_or_raise(browser: str | None) -> str:
    exe = browser or find_browser()
    if exe is None:
        raise ChurnlabError("browser check: no Chromium found; install Debian's chromium package "
                            "(apt-get install chromium) or set CHURNLAB_CHROMIUM to a Chromium executable")
    return exe


def check_page(report: str | Path, *, screenshot: str | Path | None = None, browser: str | None = None,
               timeout: float = 60.0) -> PageCheck:
    """Open one HTML file in headless Chromium at 1,400 px and measure what a reader would hit.

    Parameters
    ----------
    report : str or Path
        The HTML file.
    screenshot : str or Path, optional
        Where to save a full-page PNG.
    browser : str, optional
        The Chromium executable (default :func:`find_browser`).
    timeout : float, default 60
        Seconds to wait for Chromium at each step.

    Returns
    -------
    PageCheck

    Raises
    ------
    ChurnlabError
        No Chromium installed, the file does not exist, or Chromium did not answer.
    """
    report = Path(report)
    if not report.is_file():
        raise ChurnlabError(f"browser check: report {report} does not exist; expected an HTML file")
    with _Chromium(_browser_or_raise(browser), timeout=timeout) as chromium:
        return _check_one(chromium, report, Path(screenshot) if screenshot is not None else None)


def _reports_of(folder: Path) -> list[Path]:
    from churnlab.record import RECORD_FILE, read_record

    if (folder / RECORD_FILE).is_file():
        run = read_record(folder)
        return [folder / nb.report for nb in run.notebooks if nb.report and (folder / nb.report).is_file()]
    return sorted(folder.glob("*.html"))


def check_run(run: str | Path, *, browser: str | None = None, timeout: float = 60.0) -> RunCheck:
    """Check every report of a run in one headless Chromium and save a screenshot of each.

    Parameters
    ----------
    run : str or Path
        A run folder, or a reference :func:`churnlab.record.find_run` understands (``latest``, a name,
        a unique prefix, a spec name).
    browser : str, optional
        The Chromium executable (default :func:`find_browser`).
    timeout : float, default 60
        Seconds to wait for Chromium at each step.

    Returns
    -------
    RunCheck
        One :class:`PageCheck` per report, in notebook order; screenshots in ``<run>/screenshots/``.

    Raises
    ------
    ChurnlabError
        No such run, a run without reports, or no Chromium.
    """
    from churnlab.record import find_run

    folder = Path(run)
    if not folder.is_dir():
        folder = Path(find_run(str(run)).folder)
    reports = _reports_of(folder)
    if not reports:
        raise ChurnlabError(f"browser check: run folder {folder} has no HTML reports; expected <notebook>.html files")
    pages = []
    with _Chromium(_browser_or_raise(browser), timeout=timeout) as chromium:
        for report in reports:
            pages.append(_check_one(chromium, report, folder / "screenshots" / f"{report.stem}.png"))
    return RunCheck(folder=folder, pages=tuple(pages))


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python -m churnlab.browser_check [RUN]``; exit 0 when every report passes, 1 if not."""
    args = list(sys.argv[1:] if argv is None else argv)
    if any(a in ("-h", "--help") for a in args):
        print(__doc__.strip().splitlines()[0] + "\n\nusage: python -m churnlab.browser_check [RUN]  (default: latest)")
        return 0
    try:
        result = check_run(args[0] if args else "latest")
    except ChurnlabError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(result)
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
