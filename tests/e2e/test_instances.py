"""Two Streamlit instances behind nginx on one PostgreSQL, as docs/deployment.md §3 describes.

The nginx configuration is the one printed in docs/deployment.md (between the `nginx-carto`
markers): the test replaces only the instances' addresses, the listening port, the certificate
paths and the folder of the French « indisponible » page. A visitor is pinned to an instance by
the `carto_instance` cookie that configuration sets; the test picks, from nginx's own access
log, a cookie value that lands on each instance.
"""

from __future__ import annotations

import os
import re
import shutil
import ssl
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
from playwright.sync_api import expect
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from streamlit_server import StreamlitServer, free_port, start_streamlit

from carto.auth import hash_password
from carto.config import PROJECT_ROOT
from carto.intake import pipeline as dataset

from .conftest import IMPORT_FILE_INPUT, LOCAL_HOSTS

pytestmark = [pytest.mark.browser, pytest.mark.postgres]

NGINX = Path("/usr/sbin/nginx")
DOC = PROJECT_ROOT / "docs" / "deployment.md"
DOC_BLOCK = re.compile(
    r"<!-- nginx-carto:début -->\s*```nginx\n(?P<conf>.*?)```\s*<!-- nginx-carto:fin -->", re.S
)
# What the test changes in the documented configuration, and only that.
DOC_UPSTREAMS = ("server 10.0.0.11:8501", "server 10.0.0.12:8501")
DOC_LISTEN = "listen 443 ssl;"
DOC_CERT = "/etc/ssl/certs/carte.exemple.gouv.fr.pem"
DOC_KEY = "/etc/ssl/private/carte.exemple.gouv.fr.key"
DOC_PAGES = "/opt/carto-solidaire/deploy/nginx"
DATA = PROJECT_ROOT / "data" / "initiatives.csv"
EXCEL_EXPORT = PROJECT_ROOT / "tests" / "data" / "messy" / "export-excel-cp1252-pointvirgule.csv"
PASSWORD = "Solidarité-62!"
COOKIE = "carto_instance"
COOKIE_SECRET = "test-secret-partage-par-les-instances"


def rows(path: Path) -> int:
    return len(dataset.load(path).table)


def caption(page: Any, shown: int, total: int) -> Any:
    return page.get_by_text(re.compile(rf"^{shown} affichées sur {total}$"))


def documented_config() -> str:
    match = DOC_BLOCK.search(DOC.read_text(encoding="utf-8"))
    assert match, "docs/deployment.md doit contenir la configuration nginx entre ses marqueurs"
    return match.group("conf")


def test_the_documented_configuration_is_complete() -> None:
    conf = documented_config()
    for needle in (*DOC_UPSTREAMS, DOC_LISTEN, DOC_CERT, DOC_KEY, DOC_PAGES):
        assert conf.count(needle) == 1, needle
    assert "proxy_set_header Upgrade $http_upgrade;" in conf  # Streamlit's websocket
    assert "error_page 502 503 504 /indisponible.html;" in conf
    page = PROJECT_ROOT / "deploy" / "nginx" / "indisponible.html"
    assert '<html lang="fr">' in page.read_text(encoding="utf-8")


@dataclass
class Proxy:
    port: int
    process: subprocess.Popen[bytes]
    access_log: Path
    error_log: Path

    @property
    def base_url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=15)


def _nginx_conf(prefix: Path, upstreams: tuple[int, int], port: int) -> Path:
    cert, key = prefix / "cert.pem", prefix / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
        + ["-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )
    conf = documented_config()
    for needle, local in (
        (DOC_UPSTREAMS[0], f"server 127.0.0.1:{upstreams[0]}"),
        (DOC_UPSTREAMS[1], f"server 127.0.0.1:{upstreams[1]}"),
        (DOC_LISTEN, f"listen 127.0.0.1:{port} ssl;"),
        (DOC_CERT, str(cert)),
        (DOC_KEY, str(key)),
        (DOC_PAGES, str(PROJECT_ROOT / "deploy" / "nginx")),
    ):
        conf = conf.replace(needle, local)
    temp = prefix / "temp"
    temp.mkdir()
    # The wrapper a packaged nginx.conf provides (events, logs, temp folders), plus a log line
    # that names the instance each request went to.
    wrapper = f"""
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
user {os.environ.get("USER") or "root"};
events {{ worker_connections 256; }}
http {{
    log_format carto '$cookie_{COOKIE} $upstream_addr $status $request_uri';
    access_log {prefix}/access.log carto;
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
    return path


def _start_nginx(prefix: Path, upstreams: tuple[int, int]) -> Proxy:
    port = free_port()
    conf = _nginx_conf(prefix, upstreams, port)
    check = subprocess.run(
        [str(NGINX), "-t", "-p", str(prefix), "-c", str(conf)], text=True, capture_output=True
    )
    assert check.returncode == 0, check.stderr
    process = subprocess.Popen(
        [str(NGINX), "-p", str(prefix), "-c", str(conf), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    proxy = Proxy(port, process, prefix / "access.log", prefix / "error.log")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            _get(proxy, "/_stcore/health", cookie="sonde")
            return proxy
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.2)  # polling until nginx listens, not a wait for the UI
    proxy.stop()
    raise RuntimeError(f"nginx ne répond pas :\n{proxy.error_log.read_text(errors='replace')}")


def _get(proxy: Proxy, path: str, *, cookie: str) -> tuple[int, str, dict[str, str]]:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    request = urllib.request.Request(
        proxy.base_url + path, headers={"Cookie": f"{COOKIE}={cookie}"}
    )
    try:
        with urllib.request.urlopen(request, context=context, timeout=10) as response:  # noqa: S310
            return (
                response.status,
                response.read().decode("utf-8", "replace"),
                dict(response.headers),
            )
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8", "replace"), dict(exc.headers)


def _wait_for(condition: Any, what: str, timeout_s: float = 45.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)  # polling a log file, not a wait for the UI
    raise AssertionError(f"délai dépassé : {what}")


def _logged(proxy: Proxy, cookie: str) -> str:
    lines = [x for x in proxy.access_log.read_text().splitlines() if x.startswith(f"{cookie} ")]
    return lines[-1] if lines else ""


def _cookie_per_instance(proxy: Proxy, servers: list[StreamlitServer]) -> dict[int, str]:
    """A cookie value that nginx sends to each instance, read from its access log."""
    found: dict[int, str] = {}
    for n in range(64):
        value = f"visiteur-{n}"
        status, _, _ = _get(proxy, "/_stcore/health", cookie=value)
        assert status == 200
        # nginx writes the log line just after the response: wait for it.
        _wait_for(lambda v=value: _logged(proxy, v), f"ligne du journal de {value}")
        upstream = _logged(proxy, value).split()[1]
        port = int(upstream.rsplit(":", 1)[1])
        found.setdefault(port, value)
        if len(found) == len(servers):
            return found
    raise AssertionError(f"toutes les valeurs de cookie vont vers {sorted(found)}")


@pytest.fixture
def cluster(postgres_url: str, tmp_path: Path) -> Iterator[tuple[Proxy, list[StreamlitServer]]]:
    if not NGINX.exists():
        reason = f"nginx absent : {NGINX} (paquet Debian nginx)"
        if os.environ.get("CARTO_REQUIRE_BROWSER") == "1":
            pytest.fail(f"{reason}, alors que CARTO_REQUIRE_BROWSER=1")
        pytest.skip(reason)
    schema = f"carto_instances_{uuid.uuid4().hex[:10]}"
    engine = create_engine(make_url(postgres_url))
    with engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    joiner = "&" if "?" in postgres_url else "?"
    url = f"{postgres_url}{joiner}options={quote(f'-csearch_path={schema}')}"
    secrets = (
        '[editors.marie]\nname = "Marie Dupont"\n'
        f'password_hash = "{hash_password(PASSWORD, n=2**14)}"\n'
    )
    env = {
        "CARTO_TILES": "none",
        "CARTO_DATABASE_URL": url,
        "CARTO_DATA": str(DATA),
        "STREAMLIT_SERVER_COOKIE_SECRET": COOKIE_SECRET,
    }
    python = PROJECT_ROOT / ".venv" / "bin" / "python"
    servers: list[StreamlitServer] = []
    proxy: Proxy | None = None
    try:
        for name in ("instance-a", "instance-b"):
            servers.append(
                start_streamlit(
                    cwd=PROJECT_ROOT,
                    env=env,
                    secrets=secrets,
                    log_dir=tmp_path / "logs",
                    streamlit=(str(python), "-m", "streamlit"),
                    name=name,
                )
            )
        prefix = tmp_path / "nginx"
        prefix.mkdir()
        proxy = _start_nginx(prefix, (servers[0].port, servers[1].port))
        yield proxy, servers
    finally:
        if proxy is not None:
            proxy.stop()
        for server in servers:
            server.stop()
        with engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        engine.dispose()
        shutil.rmtree(tmp_path / "nginx", ignore_errors=True)


def _visitor(browser: Any, proxy: Proxy, cookie: str, blocked: list[str]) -> Any:
    context = browser.new_context(ignore_https_errors=True, viewport={"width": 1366, "height": 900})
    context.set_default_timeout(45_000)
    expect.set_options(timeout=45_000)
    context.add_cookies([{"name": COOKIE, "value": cookie, "url": proxy.base_url}])

    def route(route: Any) -> None:
        host = urlsplit(route.request.url).hostname or ""
        if host in LOCAL_HOSTS or route.request.url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    context.route("**/*", route)
    return context.new_page()


def test_two_instances_behind_nginx_share_one_database(browser, cluster) -> None:
    proxy, servers = cluster
    cookies = _cookie_per_instance(proxy, servers)
    a, b = servers
    # Merge is the default: the file's initiatives are added to the published ones.
    total_before, total_after = rows(DATA), rows(DATA) + rows(EXCEL_EXPORT)
    blocked: list[str] = []

    # A visitor pinned to instance B sees the seed.
    on_b = _visitor(browser, proxy, cookies[b.port], blocked)
    on_b.goto(proxy.base_url)
    expect(caption(on_b, total_before, total_before)).to_be_visible()

    # An editor pinned to instance A signs in, uploads, reviews and publishes through the proxy.
    editor = _visitor(browser, proxy, cookies[a.port], blocked)
    editor.goto(proxy.base_url + "/publier")
    editor.get_by_label("Identifiant").fill("marie")
    editor.get_by_label("Mot de passe").fill(PASSWORD)
    editor.get_by_role("button", name="Se connecter").click()
    expect(editor.get_by_text("Connecté :")).to_be_visible()
    editor.locator(IMPORT_FILE_INPUT).set_input_files(str(EXCEL_EXPORT))
    expect(editor.get_by_text("Revue des changements")).to_be_visible()
    editor.get_by_text(re.compile("^Je confirme la publication")).click()
    editor.get_by_role("button", name="Publier", exact=True).click()
    expect(editor.get_by_text(re.compile("Version 2 publiée"))).to_be_visible()

    # The next page load on instance B shows what was published on A.
    on_b.reload()
    expect(caption(on_b, total_after, total_after)).to_be_visible()

    # A visitor on instance A has the map open when A stops: the tab reconnects through nginx
    # to B and shows the published map again, not a blank page.
    on_a = _visitor(browser, proxy, cookies[a.port], blocked)
    on_a.goto(proxy.base_url + "/?q=panier")
    # « panier »: the export's Épicerie « Le Panier » and two seed initiatives (merged).
    expect(caption(on_a, 3, total_after)).to_be_visible()
    a.stop()
    # The tab reconnects through nginx, which now sends it to instance B, where a new session
    # shows the same view. A search needs that live session; typed while the tab is still
    # reconnecting it may be replaced by the link's view, so it is typed again until answered.
    search = on_a.get_by_label("Rechercher")
    deadline = time.monotonic() + 60
    while True:
        search.fill("introuvable")
        search.press("Enter")
        try:
            expect(caption(on_a, 0, total_after)).to_be_visible(timeout=5_000)
            break
        except AssertionError:
            if time.monotonic() > deadline:
                raise
    expect(on_a.get_by_text("Aucune initiative ne correspond").first).to_be_visible()
    log = proxy.access_log.read_text().splitlines()
    assert any(line.startswith(f"{cookies[a.port]} 127.0.0.1:{b.port} ") for line in log)
    # The address holds the search once the run that shows it has ended; then reload.
    expect(on_a).to_have_url(re.compile(r"[?&]q=introuvable"))
    on_a.reload()
    expect(caption(on_a, 0, total_after)).to_be_visible()

    # Nothing published was lost: a new visitor still gets version 2 through the proxy.
    fresh = _visitor(browser, proxy, "nouveau-visiteur", blocked)
    fresh.goto(proxy.base_url)
    expect(caption(fresh, total_after, total_after)).to_be_visible()

    # No instance left: a page load gets nginx's French page, not an nginx error.
    b.stop()
    status, body, _ = _get(proxy, "/", cookie=cookies[b.port])
    assert status == 502
    assert "La carte est momentanément indisponible" in body
    assert 'lang="fr"' in body
    assert blocked == []
