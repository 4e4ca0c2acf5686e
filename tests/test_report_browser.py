"""The HTML report in a real headless Chromium, driven over the DevTools protocol (websocket-client).

Checks: zero console errors (incl. CSP violations and uncaught exceptions), zero network requests outside
the file, the expected number of rendered Plotly plots, a non-blank screenshot, and that a run named
``<script>alert(1)</script>`` shows up as text without any dialog firing.
"""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
import subprocess
import time
import urllib.request

import numpy as np
import pandas as pd
import pytest

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]
HOSTILE = "<script>alert(1)</script>"


class DevTools:
    """Minimal synchronous DevTools client: send commands, collect events."""

    def __init__(self, ws_url: str) -> None:
        import websocket

        self.ws = websocket.create_connection(ws_url, timeout=30, suppress_origin=True)
        self.next_id = 0
        self.events: list[dict] = []

    def send(self, method: str, **params) -> dict:
        self.next_id += 1
        mid = self.next_id
        self.ws.send(json.dumps({"id": mid, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == mid:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self._event(msg)

    def _event(self, msg: dict) -> None:
        self.events.append(msg)
        if msg.get("method") == "Page.javascriptDialogOpening":  # never leave a dialog blocking the page
            self.ws.send(json.dumps({"id": 10**6 + len(self.events), "method": "Page.handleJavaScriptDialog",
                                     "params": {"accept": False}}))

    def pump(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        self.ws.settimeout(0.1)
        try:
            while time.monotonic() < end:
                try:
                    self._event(json.loads(self.ws.recv()))
                except Exception as exc:  # websocket timeout
                    if "timed out" not in str(exc).lower() and type(exc).__name__ != "WebSocketTimeoutException":
                        raise
        finally:
            self.ws.settimeout(30)

    def evaluate(self, expr: str):
        res = self.send("Runtime.evaluate", expression=expr, returnByValue=True)
        return res.get("result", {}).get("value")

    def close(self) -> None:
        self.ws.close()


def _in_ci() -> bool:
    """True under CI (``CI=true``, as GitHub Actions, GitLab and most CI systems set it)."""
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def _cannot_start(reason: str) -> None:
    """A Chromium that is installed but does not start fails the test in CI (the browser check would
    otherwise pass silently there) and skips it on a developer's machine."""
    if _in_ci():
        pytest.fail(f"CI: {reason}")
    pytest.skip(reason)


@pytest.fixture
def browser(tmp_path):
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (apt-get install chromium)")
    pytest.importorskip("websocket", reason="websocket-client is needed for the DevTools protocol")
    profile = tmp_path / "profile"
    profile.mkdir()
    proc = subprocess.Popen([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "--remote-debugging-port=0",
                             "--window-size=1280,2400", "about:blank"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        port_file = profile / "DevToolsActivePort"
        for _ in range(300):
            if port_file.exists() and port_file.read_text().strip():
                break
            if proc.poll() is not None:
                _cannot_start(f"chromium exited at start (code {proc.returncode})")
            time.sleep(0.1)
        else:
            _cannot_start("chromium did not open a DevTools port in 30 s")
        port = int(port_file.read_text().split()[0])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as r:  # noqa: S310
            targets = json.load(r)
        page = next(t for t in targets if t.get("type") == "page")
        dt = DevTools(page["webSocketDebuggerUrl"])
        yield dt
        dt.close()
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def _runs(n_budgets: int = 4, per: int = 9) -> pd.DataFrame:
    from scalinglab.laws import get_preset

    law, preset = get_preset("chinchilla-epoch")
    rng = np.random.default_rng(1)
    rows = []
    for c in np.logspace(18, 19.5, n_budgets):
        N = np.logspace(np.log10(np.sqrt(c / 6)) - 1.0, np.log10(np.sqrt(c / 6)) + 0.6, per)
        D = c / (6 * N)
        L = law(preset.values, N=N, D=D) * np.exp(rng.normal(0, 0.004, per))
        rows += [dict(run_id=f"run-{len(rows)}", params=n, tokens=d, flops=c, loss=y)
                 for n, d, y in zip(N, D, L, strict=True)]
    df = pd.DataFrame(rows)
    df.loc[5, "run_id"] = HOSTILE
    return df


def test_report_in_headless_chromium(browser, tmp_path):
    from scalinglab.report import write_report

    df = _runs()
    path = write_report(df, path=tmp_path / "report.html", bootstrap=50, models=False,
                        title="Browser test " + HOSTILE)
    text = path.read_text()
    expected = int(text.split('data-figures="', 1)[1].split('"', 1)[0])
    # loss vs compute, IsoFLOP, allocation, residuals (+ bootstrap, multi-start when the fit has them)
    assert expected >= 4

    dt = browser
    for domain in ("Page", "Runtime", "Log", "Network"):
        dt.send(f"{domain}.enable")
    dt.send("Page.navigate", url=path.resolve().as_uri())
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        dt.pump(0.5)
        rendered = dt.evaluate("document.body ? document.body.getAttribute('data-plots-rendered') : null")
        if rendered is not None and any(e.get("method") == "Page.loadEventFired" for e in dt.events):
            break
    dt.pump(1.5)  # let plotly finish drawing and any late errors/requests arrive

    errors = [e["params"] for e in dt.events if e.get("method") == "Runtime.exceptionThrown"]
    errors += [e["params"] for e in dt.events if e.get("method") == "Runtime.consoleAPICalled"
               and e["params"].get("type") in ("error", "assert")]
    errors += [e["params"]["entry"] for e in dt.events if e.get("method") == "Log.entryAdded"
               and e["params"]["entry"].get("level") == "error"]
    assert errors == [], errors

    urls = [e["params"]["request"]["url"] for e in dt.events if e.get("method") == "Network.requestWillBeSent"]
    own = path.resolve().as_uri()
    outside = [u for u in urls if u != own and not u.startswith(("data:", "blob:", "about:"))]
    assert urls and own in urls
    assert outside == [], outside

    dialogs = [e for e in dt.events if e.get("method") == "Page.javascriptDialogOpening"]
    assert dialogs == []

    assert int(dt.evaluate("document.body.getAttribute('data-plots-rendered')")) == expected
    assert dt.evaluate("document.querySelectorAll('.js-plotly-plot').length") == expected
    # every plot drew real SVG marks (points/lines), not just an empty frame
    n_marks = dt.evaluate("Array.from(document.querySelectorAll('.js-plotly-plot')).map("
                          "d => d.querySelectorAll('path.point, path.js-line, path.js-fill, g.bars path').length)")
    assert all(m > 0 for m in n_marks), n_marks
    assert dt.evaluate(f"document.body.innerText.includes({json.dumps(HOSTILE)})") is True
    assert dt.evaluate(f"document.title === {json.dumps('Browser test ' + HOSTILE)}") is True
    assert dt.evaluate("document.querySelectorAll('main script:not(.plot-spec)').length") == 0

    shot = dt.send("Page.captureScreenshot", format="png")
    from PIL import Image

    img = np.asarray(Image.open(io.BytesIO(base64.b64decode(shot["data"]))).convert("L"), float)
    assert img.shape[0] > 100 and img.shape[1] > 100
    assert img.std() > 10, f"screenshot looks blank (pixel std {img.std():.2f})"
    assert (img < 128).mean() > 0.005  # some dark ink: text, axes, markers


def test_a_chromium_that_cannot_start_fails_in_ci(monkeypatch):
    """The start-up guard: fail under CI=true, skip elsewhere (runs without Chromium)."""
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI: chromium exited"):
        _cannot_start("chromium exited at start (code 1)")
    monkeypatch.setenv("CI", "")
    with pytest.raises(pytest.skip.Exception):
        _cannot_start("chromium exited at start (code 1)")
