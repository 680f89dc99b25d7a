"""A real app in a real browser: start `streamlit run app.py` on a free loopback port, drive it with
headless Chromium (Python playwright, Debian's /usr/bin/chromium) and wait on page state.

Shared by tests/test_e2e.py, bench/app.py and bench/screenshots.py. Never `playwright install`:
the browser is the system's chromium, launched with the flags this sandbox needs.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("VAE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1280, "height": 900}
START_TIMEOUT = 90.0  # seconds for the server to answer its health check (2 busy cores: torch import)

# The URL path of each page, as st.navigation derives it from the file name (home is the default: /).
PAGES = {
    "Overview": "",
    "Train": "train",
    "Latent map": "latent_map",
    "Manifold": "manifold",
    "Playground": "playground",
    "Reconstruct": "reconstruct",
    "Interpolate": "interpolate",
    "Compare": "compare",
    "True posterior": "posterior",
    "Import": "import_model",
}

EXCEPTION = '[data-testid="stException"]'
IDLE_APP = '[data-testid="stApp"][data-test-script-state="notRunning"]'

# True once every plotly chart on the page has been laid out and drawn (its SVG layers exist;
# scattergl points are painted into the chart's canvas by then).
CHARTS_DRAWN = """() => {
  const wrappers = document.querySelectorAll('[data-testid="stPlotlyChart"]');
  const plots = document.querySelectorAll('.js-plotly-plot');
  if (plots.length < wrappers.length) return false;
  return Array.from(plots).every(p => p._fullLayout && p.querySelector('.main-svg')
                                 && p.getBoundingClientRect().width > 0);
}"""


# True once every <img> in the page has loaded and has pixels.
IMAGES_LOADED = """() => Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)"""
# True when no element is a placeholder: no loading skeletons, no stale elements of a previous run.
SETTLED = """() => !document.querySelector('[data-testid="stSkeleton"], [data-testid="stSkeletonElement"],'
  + ' [data-testid="stAppSkeleton"], [data-stale="true"]')"""
NOT_RUNNING = """() => { const w = document.querySelector('[data-testid="stStatusWidget"]');
  return !w || !/Running/i.test(w.innerText); }"""


def chromium_available() -> bool:
    try:
        import playwright  # noqa: F401
    except ImportError:
        return False
    return Path(CHROMIUM).exists()


def free_port() -> int:
    """A port nothing listens on now (the OS picks it); the server binds it a moment later."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    """A running `streamlit run app.py`; url has no trailing slash."""

    proc: subprocess.Popen
    port: int
    log: Path
    started: float  # time.perf_counter() just before the process was created
    healthy: float  # time.perf_counter() when /_stcore/health first answered "ok"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def page_url(self, title: str) -> str:
        return f"{self.url}/{PAGES[title]}"

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


def _health(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
            return r.status == 200 and r.read().strip() == b"ok"
    except OSError:
        return False


def _die_with_parent() -> None:
    """In the child before exec: Linux sends it SIGTERM when the process that started it dies, so
    a test run killed by a timeout does not leave a server behind."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def start_server(
    env: dict[str, str] | None = None,
    *,
    log_dir: str | os.PathLike | None = None,
    timeout: float = START_TIMEOUT,
    script: str | os.PathLike = "app.py",
) -> Server:
    """Start the app (or another Streamlit `script`, run from the repository) on a free loopback port
    with `env` added to this process's environment and return once its health check answers "ok"
    (the process is stopped if it never does)."""
    port = free_port()
    log = Path(log_dir or tempfile.mkdtemp(prefix="vae-e2e-")) / f"streamlit-{port}.log"
    cmd = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(script),
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--server.address",
        "127.0.0.1",
        "--browser.gatherUsageStats",
        "false",
        "--server.fileWatcherType",
        "none",
    ]
    full_env = {**os.environ, **(env or {}), "PYTHONUNBUFFERED": "1"}
    started = time.perf_counter()
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            env=full_env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
    deadline = started + timeout
    while time.perf_counter() < deadline:
        if proc.poll() is not None:
            server = Server(proc, port, log, started, float("nan"))
            raise RuntimeError(f"streamlit exited with {proc.returncode}:\n{server.log_tail()}")
        if _health(port):
            return Server(proc, port, log, started, time.perf_counter())
        time.sleep(0.05)  # polling a socket, not waiting on the page
    server = Server(proc, port, log, started, float("nan"))
    stop_server(server)
    raise TimeoutError(f"streamlit did not answer on port {port} within {timeout:.0f} s:\n{server.log_tail()}")


def stop_server(server: Server, grace: float = 10.0) -> None:
    """Terminate the server by its PID, wait, then kill it (and anything it started) if it lingers."""
    proc = server.proc
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(grace)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)  # its own session: stray children of this server only


@contextlib.contextmanager
def serving(env: dict[str, str] | None = None, **kwargs):
    server = start_server(env, **kwargs)
    try:
        yield server
    finally:
        stop_server(server)


def isolated_env(base: str | os.PathLike) -> dict[str, str]:
    """VAE_MODELS_DIR (and, unless already set, VAE_DATA_DIR) under `base`: the server never writes
    to ./models or the user's cache."""
    base = Path(base)
    (base / "models").mkdir(parents=True, exist_ok=True)
    env = {"VAE_MODELS_DIR": str(base / "models")}
    env["VAE_DATA_DIR"] = os.environ.get("VAE_E2E_DATA_DIR") or str(base / "data")
    return env


def vm_hwm_mb(pid: int) -> float:
    """Peak resident memory (VmHWM) of a process, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM line")


@contextlib.contextmanager
def chromium():
    """A headless Chromium for the length of the block (a module-scoped fixture's body)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = launch(p)
        try:
            yield b
        finally:
            b.close()


def launch(playwright):
    """Headless Chromium from /usr/bin/chromium with this sandbox's flags."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)


def new_page(browser, viewport: dict | None = None):
    context = browser.new_context(viewport=viewport or VIEWPORT)
    context.set_default_timeout(60_000)
    return context.new_page()


def wait_rendered(page, timeout: float = 90_000) -> None:
    """Wait until the script finished its run (no "Running..." state), its elements are all drawn
    (no skeletons or stale elements), every plotly chart is laid out and every image loaded."""
    page.wait_for_selector(IDLE_APP, timeout=timeout)
    page.wait_for_function(NOT_RUNNING, timeout=timeout)
    page.wait_for_function(SETTLED, timeout=timeout)
    page.wait_for_function(CHARTS_DRAWN, timeout=timeout)
    page.wait_for_function(IMAGES_LOADED, timeout=timeout)
    page.wait_for_function("() => document.fonts ? document.fonts.status === 'loaded' : true", timeout=timeout)


def open_page(page, server: Server, title: str, timeout: float = 90_000) -> None:
    """Load a page by its URL path and wait until it is rendered and shows its title."""
    page.goto(server.page_url(title), wait_until="domcontentloaded")
    page.wait_for_selector(f'[data-testid="stMainBlockContainer"] h1, {EXCEPTION}', timeout=timeout)
    wait_rendered(page, timeout)
    if page.locator(EXCEPTION).count():
        raise AssertionError(f"{title}: the page shows an exception:\n{page.locator(EXCEPTION).first.inner_text()}")


LIVE_FRAMES = "(name) => (globalThis.__vaeLive && globalThis.__vaeLive.stats[name] || {frames: 0}).frames"


def open_live(page, url: str, component: str, timeout: float = 180_000) -> None:
    """Load url, wait until the live component (latent_pad or latent_path) has decoded a frame in the
    browser and the page is rendered, and check it shows no exception."""
    page.goto(url, wait_until="domcontentloaded")
    page.wait_for_function(f"() => ({LIVE_FRAMES})('{component}') > 0", timeout=timeout)
    # A session's first Playground run draws the pad alone; the rest (buttons, the direction control,
    # the sidebar's links) follows its first report and moves the pad down: wait for it before anyone
    # measures where the pad is.
    page.wait_for_selector('[data-testid="stPageLink"]', timeout=timeout)
    wait_rendered(page, timeout)
    if page.locator(EXCEPTION).count():
        raise AssertionError(f"{url}: the page shows an exception:\n{page.locator(EXCEPTION).first.inner_text()}")


def image_src(page, selector: str) -> str:
    """The src of the first element matching selector (its attribute; currentSrc lags until loaded)."""
    return page.eval_on_selector(selector, "el => el.src")
