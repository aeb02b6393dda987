"""The real servers the daemon talks to, started on loopback on free ports: Mosquitto (with passwords and an
ACL) and VictoriaMetrics (InfluxDB v2 write API). Each can be stopped and started again mid-test, on the same
port and, for VictoriaMetrics, the same storage, to play an outage."""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

# The service, the example lab's people (their broker logins are their operator ids) and a read-only viewer.
USERS = {"labd": "labd-secret", "demo": "demo-secret", "supervisor": "supervisor-secret",
         "manager": "manager-secret", "trainee": "trainee-secret", "viewer": "viewer-secret"}
ACL = Path(__file__).resolve().parent.parent / "deploy" / "mosquitto" / "acl"     # exactly what docs/mqtt.md gives


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.02)
    raise RuntimeError(f"nothing listening on port {port} after {timeout} s")


class Server:
    def __init__(self) -> None:
        # Mosquitto started as root drops to the mosquitto user, which must be able to read its files.
        self.dir = Path(tempfile.mkdtemp(prefix="labd-real-"))
        os.chmod(self.dir, 0o755)
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    def command(self) -> list[str]:
        raise NotImplementedError

    def start(self) -> None:
        self.log = open(self.dir / "server.log", "ab")
        self.proc = subprocess.Popen(self.command(), stdout=self.log, stderr=subprocess.STDOUT)
        try:
            _wait_port(self.port)
        except RuntimeError:
            self.stop()
            raise RuntimeError(f"{self.command()[0]} did not start: {(self.dir / 'server.log').read_text()[-2000:]}")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None
            self.log.close()

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class Mosquitto(Server):
    def __init__(self, tls: bool = False) -> None:
        super().__init__()
        self.tls_port = free_port() if tls else None
        passwd = self.dir / "passwd"
        passwd.touch()
        for user, password in USERS.items():
            subprocess.run(["mosquitto_passwd", "-b", str(passwd), user, password], check=True, capture_output=True)
        shutil.copyfile(ACL, self.dir / "acl")
        conf = (f"per_listener_settings false\nallow_anonymous false\npassword_file {passwd}\n"
                f"acl_file {self.dir / 'acl'}\npersistence false\nlog_dest stderr\nlistener {self.port} 127.0.0.1\n")
        if self.tls_port:
            self._certificates()
            conf += (f"listener {self.tls_port} 127.0.0.1\ncafile {self.dir / 'ca.crt'}\n"
                     f"certfile {self.dir / 'server.crt'}\nkeyfile {self.dir / 'server.key'}\n")
        (self.dir / "mosquitto.conf").write_text(conf)
        for f in self.dir.iterdir():
            os.chmod(f, 0o644)

    def _certificates(self) -> None:
        """A throwaway CA and a server certificate for 127.0.0.1, made with openssl."""
        d = self.dir

        def run(*args: str) -> None:
            subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True)
        run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "2",
            "-subj", "/CN=labd test CA")
        run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj",
            "/CN=127.0.0.1")
        (d / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
        run("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "server.crt", "-days", "2", "-extfile", "san.ext")

    def command(self) -> list[str]:
        return ["mosquitto", "-c", str(self.dir / "mosquitto.conf")]

    def start(self) -> None:
        super().start()
        if self.tls_port:
            _wait_port(self.tls_port)

    def url(self, user: str = "labd", tls: bool = False) -> str:
        if tls:
            return f"mqtts://{user}:{USERS[user]}@127.0.0.1:{self.tls_port}"
        return f"mqtt://{user}:{USERS[user]}@127.0.0.1:{self.port}"


class VictoriaMetrics(Server):
    def command(self) -> list[str]:
        return ["victoria-metrics", f"-storageDataPath={self.dir / 'data'}", f"-httpListenAddr=127.0.0.1:{self.port}",
                "-retentionPeriod=100y", "-search.latencyOffset=0s", "-search.disableCache", "-loggerLevel=ERROR"]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def export(self, match: str = '{__name__=~"reading_.*"}') -> list[dict]:
        """Every stored series matching `match`, as VictoriaMetrics exports them (JSON lines)."""
        urllib.request.urlopen(f"{self.url}/internal/force_flush", timeout=10).read()
        query = urllib.parse.urlencode({"match[]": match})
        with urllib.request.urlopen(f"{self.url}/api/v1/export?{query}", timeout=30) as resp:
            return [json.loads(line) for line in resp.read().decode().splitlines() if line.strip()]



class PostgreSQL(Server):
    """Debian's PostgreSQL: a throwaway cluster (initdb, trust on loopback), run as the postgres user (it
    refuses to run as root). `.stop()` / `.start()` keep its data, to play an outage of the central records."""

    BIN = Path("/usr/lib/postgresql")

    def __init__(self) -> None:
        super().__init__()
        self.data = self.dir / "data"
        self.data.mkdir()
        shutil.chown(self.data, "postgres")
        shutil.chown(self.dir, "postgres")
        self._as_postgres([str(self._bin("initdb")), "-D", str(self.data), "-A", "trust", "-U", "postgres",
                           "--no-sync", "-E", "UTF8"])

    @classmethod
    def _bin(cls, name: str) -> Path:
        versions = sorted(cls.BIN.glob("*/bin/" + name), key=lambda p: int(p.parts[-3]))
        if not versions:
            raise RuntimeError(f"no PostgreSQL {name} under {cls.BIN} (tests/install-real-parts.sh installs it)")
        return versions[-1]

    def _as_postgres(self, argv: list[str]) -> None:
        wrapped = ["su", "postgres", "-s", "/bin/sh", "-c", " ".join(argv)] if os.geteuid() == 0 else argv
        subprocess.run(wrapped, check=True, capture_output=True)

    def command(self) -> list[str]:
        argv = [str(self._bin("postgres")), "-D", str(self.data), "-p", str(self.port), "-k", str(self.dir),
                "-h", "127.0.0.1", "-c", "fsync=off", "-c", "full_page_writes=off"]
        return ["su", "postgres", "-s", "/bin/sh", "-c", "exec " + " ".join(argv)] if os.geteuid() == 0 else argv

    def start(self) -> None:
        super().start()
        deadline = time.monotonic() + 20
        while True:           # the port accepts before the server takes connections
            probe = subprocess.run([str(self._bin("pg_isready")), "-h", "127.0.0.1", "-p", str(self.port)],
                                   capture_output=True)
            if probe.returncode == 0 or time.monotonic() > deadline:
                return
            time.sleep(0.05)

    def _postmaster(self) -> int | None:
        try:
            return int((self.data / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def stop(self) -> None:
        """A fast shutdown (SIGINT): open connections are cut, as a network outage would. It waits for the
        postmaster itself to exit: `su` may go first, and a restart while the old postmaster still holds
        postmaster.pid fails ("lock file already exists")."""
        if self.proc is not None:
            pid = self._postmaster()
            if pid is None:
                subprocess.run(["pkill", "-INT", "-P", str(self.proc.pid)], capture_output=True)
            else:
                deadline = time.monotonic() + 30
                try:
                    os.kill(pid, signal.SIGINT)
                    while time.monotonic() < deadline:
                        os.kill(pid, 0)
                        time.sleep(0.02)
                except ProcessLookupError:
                    pass
        super().stop()

    def createdb(self, name: str) -> str:
        subprocess.run([str(self._bin("createdb")), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", name],
                       check=True, capture_output=True)
        return self.url(name)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"
