"""deploy/nginx.conf as nginx itself reads it (Debian 12 ships nginx 1.22, which refused
the example's "http2 on;"): it loads, and it refuses a 2 MB form before Ferry sees it
while letting the mapping CSV upload through. Skipped where nginx is not installed."""
import shutil
import socket
import ssl
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists()
                                  else None)
pytestmark = pytest.mark.skipif(NGINX is None, reason="nginx is not installed here")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _config(tmp_path: Path) -> tuple[Path, int]:
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=ferry.your-msp.example", "-keyout", str(tmp_path / "k.pem"),
                    "-out", str(tmp_path / "c.pem")], check=True, capture_output=True)
    port, upstream = _free_port(), _free_port()
    site = (ROOT / "deploy" / "nginx.conf").read_text()
    site = (site.replace("/etc/letsencrypt/live/ferry.your-msp.example/fullchain.pem",
                         str(tmp_path / "c.pem"))
            .replace("/etc/letsencrypt/live/ferry.your-msp.example/privkey.pem",
                     str(tmp_path / "k.pem"))
            .replace("listen 443 ssl", f"listen 127.0.0.1:{port} ssl")
            .replace("listen 80;", f"listen 127.0.0.1:{_free_port()};")
            .replace("127.0.0.1:8000", f"127.0.0.1:{upstream}"))
    (tmp_path / "site.conf").write_text(site)
    conf = tmp_path / "nginx.conf"
    body = tmp_path / "body"                # nginx's workers (nobody) buffer bodies here
    body.mkdir()
    body.chmod(0o777)
    for parent in (tmp_path, *tmp_path.parents):
        if parent == Path("/tmp"):
            break
        parent.chmod(parent.stat().st_mode | 0o711)
    conf.write_text(f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\n"
                    f"events {{}}\nhttp {{\n access_log off;\n client_body_temp_path "
                    f"{body};\n proxy_temp_path {body};\n include {tmp_path}/site.conf;\n}}\n")
    return conf, port


def _post(port: int, path: str, size: int) -> int:
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    import http.client
    connection = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=30)
    connection.request("POST", path, body=b"a" * size,
                       headers={"Host": "ferry.your-msp.example",
                                "Content-Type": "application/x-www-form-urlencoded"})
    status = connection.getresponse().status
    connection.close()
    return status


def test_the_nginx_example_loads_and_caps_bodies(tmp_path):
    conf, port = _config(tmp_path)
    checked = subprocess.run([NGINX, "-t", "-c", str(conf)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    subprocess.run([NGINX, "-c", str(conf)], check=True)
    try:
        assert _post(port, "/login", 2_000_000) == 413
        # The upload passes nginx (502: no Ferry behind it in this test).
        assert _post(port, "/mappings/import", 2_000_000) == 502
    finally:
        subprocess.run([NGINX, "-c", str(conf), "-s", "stop"], capture_output=True)
