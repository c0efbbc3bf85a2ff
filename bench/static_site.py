"""The static public site (`carto site build`) under Debian's nginx, loaded by Debian's wrk.

nginx runs the configuration printed in docs/deployment.md §3 bis (only the port and the site
folder change), on localhost. wrk (Debian package) loads `index.html` and the data file for a
fixed duration with a fixed number of connections, asking for gzip as browsers do; it reports
requests per second and the latency distribution (p99). wrk and nginx share the machine's
cores, so the figures are a floor for a dedicated server.

Bytes per first visit: one headless Chromium visit with an empty cache, summed from the
Resource Timing entries of the page and its map frame (transferred = compressed on the wire,
decoded = uncompressed).

`python bench/static_site.py SITE_DIR` prints the figures.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
sys.path.insert(1, str(REPO / "tests"))

from streamlit_server import free_port  # noqa: E402

NGINX = "/usr/sbin/nginx"
WRK = "/usr/bin/wrk"
DOC = REPO / "docs" / "deployment.md"
DOC_BLOCK = re.compile(
    r"<!-- nginx-site:début -->\s*```nginx\n(?P<conf>.*?)```\s*<!-- nginx-site:fin -->", re.S
)
DOC_LISTEN = "listen 80;"
DOC_ROOT = "root /var/lib/carto-solidaire/site;"


def documented_config() -> str:
    match = DOC_BLOCK.search(DOC.read_text(encoding="utf-8"))
    if not match:
        raise RuntimeError("docs/deployment.md : configuration nginx du site statique absente")
    return match.group("conf")


@dataclass
class StaticServer:
    port: int
    process: subprocess.Popen[bytes]
    prefix: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=15)


def start_nginx(site: Path, prefix: Path) -> StaticServer:
    conf = documented_config()
    for needle in (DOC_LISTEN, DOC_ROOT):
        if conf.count(needle) != 1:
            raise RuntimeError(f"docs/deployment.md : « {needle} » attendu une fois")
    port = free_port()
    conf = conf.replace(DOC_LISTEN, f"listen 127.0.0.1:{port};")
    conf = conf.replace(DOC_ROOT, f"root {site.resolve()};")
    temp = prefix / "temp"
    temp.mkdir(parents=True, exist_ok=True)
    wrapper = f"""
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
user {os.environ.get("USER") or "root"};
worker_processes auto;
events {{ worker_connections 1024; }}
http {{
    include /etc/nginx/mime.types;
    types {{ application/geo+json geojson; }}
    access_log off;
    sendfile on;
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
{conf}
}}
"""
    path = prefix / "nginx.conf"
    path.write_text(wrapper, encoding="utf-8")
    check = subprocess.run(
        [NGINX, "-t", "-p", str(prefix), "-c", str(path)], capture_output=True, text=True
    )
    if check.returncode:
        raise RuntimeError(check.stderr)
    process = subprocess.Popen(
        [NGINX, "-p", str(prefix), "-c", str(path), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    server = StaticServer(port, process, prefix)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(server.url + "/", timeout=2):  # noqa: S310 (localhost)
                return server
        except OSError:
            time.sleep(0.1)  # polling until nginx listens
    server.stop()
    raise RuntimeError("nginx ne répond pas")


@dataclass(frozen=True)
class WrkResult:
    path: str
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    errors: int
    seconds: int
    connections: int


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if match is None:
        raise ValueError(f"durée de wrk illisible : {text!r}")
    value, unit = match.groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def wrk(url: str, *, seconds: int = 10, connections: int = 64, threads: int = 2) -> WrkResult:
    out = subprocess.run(
        [WRK, f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency"]
        + ["-H", "Accept-Encoding: gzip", url],
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 60,
    ).stdout
    rate = float(re.search(r"Requests/sec:\s*([\d.]+)", out).group(1))  # type: ignore[union-attr]
    # The lines of "Latency Distribution" (a "+/- Stdev" column such as "68.50%" can precede).
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    non2xx = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", out)
    errors += int(non2xx.group(1)) if non2xx else 0
    path = "/" + url.split("/", 3)[3] if url.count("/") >= 3 else "/"
    return WrkResult(path, rate, p50, p99, errors, seconds, connections)


@dataclass(frozen=True)
class FirstVisit:
    requests: int
    transferred: int
    decoded: int
    non_local: int


FIRST_VISIT_JS = """
() => {
  const frames = [window, ...Array.from(document.querySelectorAll('iframe'))
      .map(f => { try { return f.contentWindow; } catch (e) { return null; } })
      .filter(w => w && w.performance)];
  const entries = [];
  for (const w of frames) {
    const nav = w.performance.getEntriesByType('navigation');
    entries.push(...nav, ...w.performance.getEntriesByType('resource'));
  }
  return entries.map(e => [e.name, e.transferSize, e.decodedBodySize]);
}
"""


def first_visit(url: str) -> FirstVisit:
    from playwright.sync_api import sync_playwright

    blocked: list[str] = []
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            context = chromium.new_context(viewport={"width": 1366, "height": 900})

            def route(route):  # type: ignore[no-untyped-def]
                if route.request.url.startswith(("http://127.0.0.1", "data:", "blob:")):
                    route.continue_()
                else:
                    blocked.append(route.request.url)
                    route.abort()

            context.route("**/*", route)
            page = context.new_page()
            page.goto(url, wait_until="networkidle")
            entries = page.evaluate(FIRST_VISIT_JS)
        finally:
            chromium.close()
    local = [e for e in entries if str(e[0]).startswith("http://127.0.0.1")]
    return FirstVisit(
        requests=len(local),
        transferred=sum(int(e[1]) for e in local),
        decoded=sum(int(e[2]) for e in local),
        non_local=len(blocked),
    )


def data_path(site: Path) -> str:
    """The site's largest data file (the initiatives), as a URL path."""
    candidates = [p for p in site.rglob("*") if p.is_file() and p.suffix in (".js", ".json")]
    data = [p for p in candidates if "data" in p.name or "initiatives" in p.name]
    chosen = max(data or candidates, key=lambda p: p.stat().st_size)
    return "/" + chosen.relative_to(site).as_posix()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("site", type=Path)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    options = parser.parse_args(argv)
    prefix = Path(tempfile.mkdtemp(prefix="carto-bench-nginx-"))
    server = start_nginx(options.site, prefix)
    try:
        visit = first_visit(server.url + "/")
        print(
            f"première visite : {visit.requests} requêtes, {visit.transferred / 1e3:.0f} Ko "
            f"transférés, {visit.decoded / 1e3:.0f} Ko décompressés, {visit.non_local} hors local"
        )
        for path in ("/index.html", data_path(options.site)):
            r = wrk(server.url + path, seconds=options.seconds, connections=options.connections)
            print(
                f"{path} : {r.requests_per_s:.0f} req/s, p50 {r.p50_ms:.1f} ms, "
                f"p99 {r.p99_ms:.1f} ms, {r.errors} erreurs"
            )
    finally:
        server.stop()
        shutil.rmtree(prefix, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


# --------------------------------------------------------------------------- for bench/run.py

INSTALL_HINTS = {
    NGINX: "nginx : `apt-get install nginx` (Debian) / install Debian's nginx",
    WRK: "wrk : `apt-get install wrk` (Debian) / install Debian's wrk",
    "/usr/bin/chromium": (
        "Chromium : `apt-get install chromium` (Debian) / install Debian's chromium"
    ),
}


def missing_tools(*paths: str) -> list[str]:
    """Install hints (French / English) for the tools among `paths` that are not installed."""
    return [INSTALL_HINTS.get(p, p) for p in paths if not os.access(p, os.X_OK)]


@dataclass
class SiteResult:
    """The static site of one data set under nginx; `missing` says what could not run."""

    label: str
    index: WrkResult | None = None
    data: WrkResult | None = None
    visit: FirstVisit | None = None
    missing: list[str] | None = None
    error: str = ""


def build_site(database_url: str, site: Path, state: Path) -> Path:
    """`carto site build` of the published version of a store, into `site`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARTO_")}
    env.update(CARTO_DATABASE_URL=database_url, CARTO_STATE_DIR=str(state), CARTO_TILES="none")
    subprocess.run(
        [sys.executable, "-m", "carto.cli", "site", "build", str(site)],
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=600,
    )
    return site


def bench_site(
    label: str, site: Path, *, seconds: int = 10, connections: int = 64, visit: bool = True
) -> SiteResult:
    """wrk on index.html and the data file (names read from the built site), first visit."""
    result = SiteResult(label)
    missing = missing_tools(NGINX, WRK)
    if missing:
        result.missing = missing
        return result
    prefix = Path(tempfile.mkdtemp(prefix="carto-bench-nginx-"))
    try:
        server = start_nginx(site, prefix)
        try:
            if visit:
                chromium = missing_tools("/usr/bin/chromium")
                if chromium:
                    result.missing = chromium
                else:
                    result.visit = first_visit(server.url + "/")
            result.index = wrk(server.url + "/index.html", seconds=seconds, connections=connections)
            result.data = wrk(
                server.url + data_path(site), seconds=seconds, connections=connections
            )
        finally:
            server.stop()
    except (OSError, RuntimeError, subprocess.SubprocessError, ValueError) as error:
        result.error = f"{type(error).__name__}: {str(error)[:300]}"
    finally:
        shutil.rmtree(prefix, ignore_errors=True)
    return result
