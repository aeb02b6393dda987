"""labd as a product: one import package installed beside other software, configuration and data where a lab
expects them, the starter configuration, the version, and extension through entry points."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

import pytest

from .conftest import CONFIG, REPO

VENV_BIN = Path(sys.executable).parent
LABD = str(VENV_BIN / "labd")
PLUGIN = REPO / "examples" / "labd-example-plugin"


def clean_env(**extra: str) -> dict[str, str]:
    """The environment of a technician's shell: no LABD_* left over from another test."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABD_")}
    env.update(extra)
    return env


def labd(*args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 180,
         check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([LABD, *args], cwd=cwd, env=env or clean_env(), capture_output=True, text=True,
                          timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"labd {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """labd built as a wheel from a copy of the committed-to-be tree (so the build leaves nothing in the repo)."""
    src = tmp_path_factory.mktemp("src")
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO, capture_output=True,
                           text=True, check=True).stdout.split()
    for name in files:
        if (REPO / name).is_file():
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, src / name)
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out), str(src)],
                   check=True, timeout=600)
    return next(out.glob("labd-*.whl"))


def test_labd_installs_beside_python_daemon_and_uninstalls_cleanly(tmp_path, wheel):
    """pip install of labd next to python-daemon 2.3.2: both work, nothing but `labd` is top-level, and
    uninstalling labd leaves python-daemon whole (the name `daemon` is python-daemon's)."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = venv / "bin" / "python"
    pip = [str(py), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, "python-daemon==2.3.2"], check=True, timeout=600)
    subprocess.run([*pip, "--no-deps", str(wheel)], check=True, timeout=600)
    site = Path(subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    # labd's own dependencies come from the test environment, after the new environment's packages.
    (site / "zz-labd-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    for name in ("drivers", "calc", "procedures", "simulators", "config"):
        assert not (site / name).exists(), f"{name} installed top-level"
    assert (site / "labd" / "daemon" / "cli").is_dir() and (site / "labd" / "config" / "lab.toml").is_file()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = clean_env(HOME=str(tmp_path))
    version = subprocess.run([str(venv / "bin" / "labd"), "--version"], cwd=elsewhere, env=env, capture_output=True,
                             text=True, timeout=120)
    assert version.returncode == 0, version.stderr
    assert version.stdout.startswith("labd 0.1.0") and "calc source sha256 " in version.stdout
    listing = subprocess.run([str(venv / "bin" / "labd"), "run", "--list"], cwd=elsewhere, env=env,
                             capture_output=True, text=True, timeout=120)
    assert listing.returncode == 0, listing.stderr
    assert "thermometer-calibration" in listing.stdout and "equipment-check" in listing.stdout
    check_daemon = [str(py), "-c", "import daemon, daemon.daemon; print(daemon.DaemonContext.__name__, "
                                   "daemon.__file__)"]
    before = subprocess.run(check_daemon, cwd=elsewhere, env=env, capture_output=True, text=True, check=True)
    assert before.stdout.startswith("DaemonContext ") and str(site) in before.stdout
    subprocess.run([str(py), "-m", "pip", "uninstall", "-y", "--quiet", "labd"], check=True, timeout=300)
    assert not (site / "labd").exists()
    after = subprocess.run(check_daemon, cwd=elsewhere, env=env, capture_output=True, text=True)
    assert after.returncode == 0 and after.stdout == before.stdout, after.stderr


def test_data_goes_to_LABD_DATA_and_nothing_into_the_working_directory(tmp_path):
    work, data = tmp_path / "empty", tmp_path / "data"
    work.mkdir()
    proc = labd("run", "equipment-check", "--simulate", "--operator", "demo", cwd=work,
                env=clean_env(LABD_DATA=str(data), HOME=str(tmp_path / "home")), timeout=600)
    assert list(work.iterdir()) == []
    assert (data / "labd.sqlite").is_file()
    run_dirs = list((data / "runs").iterdir())
    assert len(run_dirs) == 1 and (run_dirs[0] / "results.json").is_file()
    assert "the example lab shipped with labd" in proc.stderr
    assert not (tmp_path / "home" / ".local" / "share" / "labd").exists()   # the user's folder is only the default


def test_data_dir_from_lab_toml_is_relative_to_the_configuration(tmp_path):
    from labd.daemon.config import load_config, records_path
    cfg = tmp_path / "cfg"
    shutil.copytree(CONFIG, cfg)
    text = (cfg / "lab.toml").read_text().replace('[lab]\n', '[lab]\ndata_dir = "state"\n', 1)
    (cfg / "lab.toml").write_text(text)
    config = load_config(cfg)
    assert config.data_dir == (cfg / "state").resolve()
    assert records_path(config) == (cfg / "state" / "labd.sqlite").resolve()


def test_configuration_is_found_from_LABD_CONFIG_and_says_so(tmp_path):
    cfg = tmp_path / "lab-config"
    shutil.copytree(CONFIG, cfg)
    proc = labd("config", "check", "--json", cwd=tmp_path, env=clean_env(LABD_CONFIG=str(cfg)))
    data = json.loads(proc.stdout)
    assert data["configuration"] == {"folder": str(cfg), "from": "$LABD_CONFIG"}


def test_environment_overrides_every_lab_toml_value(monkeypatch):
    from labd.daemon.config import load_config
    monkeypatch.setenv("LABD_LAB__STATION", "bench-9")
    monkeypatch.setenv("LABD_ENVIRONMENT__TEMPERATURE", "[20, 26]")
    monkeypatch.setenv("LABD_SERVICE__METRICS_PORT", "9108")
    monkeypatch.setenv("LABD_MQTT__URL", "mqtt://127.0.0.1:1884")
    config = load_config(CONFIG)
    assert config.lab.station == "bench-9" and config.environment.temperature == (20.0, 26.0)
    assert config.service.metrics_port == 9108 and config.mqtt.url == "mqtt://127.0.0.1:1884"
    assert config.lab.name.startswith("UPTD")   # the rest still from lab.toml


def test_a_bad_value_from_the_environment_names_the_variable(tmp_path):
    proc = labd("config", "check", str(CONFIG), cwd=tmp_path, check=False,
                env=clean_env(LABD_SERVICE__MONITOR_INTERVAL="soon"))
    assert proc.returncode == 1
    assert "LABD_SERVICE__MONITOR_INTERVAL: service.monitor_interval:" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_mistyped_driver_option_is_named_with_file_and_key(tmp_path):
    cfg = tmp_path / "cfg"
    shutil.copytree(CONFIG, cfg)
    inst = cfg / "instruments.toml"
    inst.write_text(inst.read_text().replace("stable_timeout = 60.0", "stable_timout = 60.0"))
    proc = labd("config", "check", str(cfg), cwd=tmp_path, check=False)
    assert proc.returncode == 1
    assert f"{inst}: instruments.balance.options.stable_timout: unknown option" in proc.stderr
    inst.write_text(inst.read_text().replace("stable_timout = 60.0", "stable_timeout = -1"))
    proc = labd("config", "check", str(cfg), cwd=tmp_path, check=False)
    assert "instruments.balance.options.stable_timeout: Input should be greater than 0" in proc.stderr


def test_secrets_come_from_files_and_are_never_shown(tmp_path):
    cfg = tmp_path / "cfg"
    shutil.copytree(CONFIG, cfg)
    (cfg / "mqtt.password").write_text("TopS3cret\n")
    lab = cfg / "lab.toml"
    lab.write_text(lab.read_text().replace('[mqtt]\n', '[mqtt]\nurl = "mqtt://127.0.0.1:1883"\nusername = "labd"\n'
                                           'password_file = "mqtt.password"\n', 1))
    from labd.daemon.config import load_config
    assert load_config(cfg).mqtt.password.get_secret_value() == "TopS3cret"
    proc = labd("config", "check", str(cfg), "--json", cwd=tmp_path, env=clean_env(LABD_INFLUX__TOKEN="tok-42"))
    assert "TopS3cret" not in proc.stdout + proc.stderr and "tok-42" not in proc.stdout + proc.stderr
    data = json.loads(proc.stdout)
    assert data["mqtt"]["password"] == "***" and data["influx"]["token"] == "***"
    (cfg / "mqtt.password").unlink()
    proc = labd("config", "check", str(cfg), cwd=tmp_path, check=False)
    assert proc.returncode == 1 and "mqtt.password_file: cannot read" in proc.stderr


def test_init_writes_a_starter_that_validates_and_refuses_to_overwrite(tmp_path):
    target = tmp_path / "newlab"
    labd("init", str(target), cwd=tmp_path)
    for name in ("lab.toml", "instruments.toml", "standards.toml", "operators.toml", "schedules.toml"):
        text = (target / name).read_text()
        assert text.startswith("#"), f"{name} is not commented"
        tomllib.loads(text)
    data = json.loads(labd("config", "check", str(target), "--json", cwd=tmp_path).stdout)
    key = Path(data["data"]["records"]).parent / "keys" / "records.key"     # the records key, made by init
    assert key.stat().st_mode & 0o777 == 0o600 and len(key.read_text().strip()) == 64
    assert data["instruments"]["balance"]["options"] == {"stable_timeout": 60.0, "capacity": None}
    assert "mettler-sics" in data["drivers"]
    again = labd("init", str(target), cwd=tmp_path, check=False)
    assert again.returncode == 1 and "already has lab.toml" in again.stderr


def test_version_names_commit_and_fingerprints(tmp_path):
    out = labd("--version", cwd=tmp_path).stdout.splitlines()
    from labd.about import calc_digest, lock_digest
    assert out[0].startswith("labd 0.1.0 (commit ")
    assert out[1] == f"calc source sha256 {calc_digest()}"
    assert out[2] == f"lock file sha256 {lock_digest()}" and lock_digest() is not None


def test_runs_show_whole_run_ids_at_80_columns(tmp_path):
    records = tmp_path / "r.sqlite"
    labd("run", "equipment-check", "--simulate", "--operator", "demo", "--records", str(records), "--out",
         str(tmp_path / "runs"), cwd=tmp_path, timeout=600)
    proc = labd("runs", "--records", str(records), cwd=tmp_path, env=clean_env(COLUMNS="80"))
    (run_id,) = [p.name for p in (tmp_path / "runs").iterdir()]
    assert run_id in proc.stdout
    assert max(len(line) for line in proc.stdout.splitlines()) <= 80
    # A long path printed to a pipe stays on one line, so a script can take it.
    deep = tmp_path / ("a-rather-long-folder-name-" * 4) / "reports"
    proc = labd("report", run_id, "--records", str(records), "--out", str(deep), "--format", "html", cwd=tmp_path,
                env=clean_env(COLUMNS="80"))
    assert f"written {deep}/" in proc.stdout


def test_library_noise_stays_out_without_verbose(tmp_path):
    """A Modbus sensor that does not answer is one line in the table, not pymodbus's ERROR lines."""
    cfg = tmp_path / "cfg"
    cfg.mkdir()
    (cfg / "lab.toml").write_text('[lab]\nname = "t"\nstation = "s"\n')
    (cfg / "instruments.toml").write_text('[instruments.ambient]\ndriver = "modbus-ambient"\n'
                                          'address = "modbus-tcp://127.0.0.1:9?unit=1"\ntimeout = 0.5\n')
    proc = labd("instruments", "--config", str(cfg), cwd=tmp_path, check=False, timeout=120)
    assert proc.returncode == 1 and "ambient" in proc.stdout
    assert "pymodbus" not in proc.stderr.lower() and "Traceback" not in proc.stderr
    verbose = labd("-vv", "instruments", "--config", str(cfg), cwd=tmp_path, check=False, timeout=120)
    assert "pymodbus" in verbose.stderr.lower() or "labd.io" in verbose.stderr


def test_a_plugin_adds_a_driver_its_simulator_and_a_procedure(tmp_path):
    """The example plugin, installed as another package would be, runs its procedure on the simulated lab."""
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps",
                    "--target", str(site), str(PLUGIN)], check=True, timeout=600)
    own_tests = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(PLUGIN / "tests")],
                               cwd=tmp_path, env=clean_env(PYTHONPATH=str(site)), capture_output=True, text=True,
                               timeout=300)
    assert own_tests.returncode == 0 and "3 passed" in own_tests.stdout, own_tests.stdout + own_tests.stderr
    cfg = tmp_path / "cfg"
    shutil.copytree(CONFIG, cfg)
    with (cfg / "instruments.toml").open("a") as fh:
        fh.write('\n[instruments.thermo]\ndriver = "acme-t100"\naddress = "/dev/ttyUSB9"\n'
                 'options = { offset = 0.01 }\nsimulation = { error = 0.05 }\n')
    ops = cfg / "operators.toml"
    ops.write_text(ops.read_text().replace('authorised = ["thermometer-calibration"',
                                           'authorised = ["example-repeatability", "thermometer-calibration"', 1))
    without = labd("config", "check", str(cfg), cwd=tmp_path, check=False)
    assert "instruments.thermo.driver: unknown driver 'acme-t100'" in without.stderr
    env = clean_env(PYTHONPATH=str(site))
    listed = labd("run", "--list", "--config", str(cfg), cwd=tmp_path, env=env)
    assert "example-repeatability" in listed.stdout
    records = tmp_path / "r.sqlite"
    proc = labd("run", "example-repeatability", "--simulate", "--config", str(cfg), "--operator", "demo",
                "--param", "readings=4", "--records", str(records), "--out", str(tmp_path / "runs"), cwd=tmp_path,
                env=env, timeout=300)
    assert "Repeatability of thermo" in proc.stdout
    (folder,) = (tmp_path / "runs").iterdir()
    result = json.loads((folder / "results.json").read_text())
    assert result["n"] == 4 and 22.0 < result["mean"] < 24.5   # the room (23 °C) + 0.05 + 0.01
    export = json.loads(labd("export", folder.name, "--records", str(records), cwd=tmp_path, env=env).stdout)
    assert [r["instrument"] for r in export["readings"]] == ["thermo"] * 4
    bad = tmp_path / "cfg-bad"
    shutil.copytree(cfg, bad)
    inst = bad / "instruments.toml"
    inst.write_text(inst.read_text().replace("offset = 0.01", "ofset = 0.01"))
    proc = labd("config", "check", str(bad), cwd=tmp_path, env=env, check=False)
    assert "instruments.thermo.options.ofset: unknown option" in proc.stderr


def test_the_lock_pins_every_dependency_within_its_range():
    """requirements.lock is what make installs: every dependency of pyproject.toml (and its test and bench
    extras) is in it, at a version inside the declared range."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    pins = {}
    for line in (REPO / "requirements.lock").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            pins[canonicalize_name(name)] = version
    wanted = project["dependencies"] + [r for extra in project["optional-dependencies"].values() for r in extra]
    problems = []
    for text in wanted:
        req = Requirement(text)
        version = pins.get(canonicalize_name(req.name))
        if version is None:
            problems.append(f"{req.name} is not in requirements.lock")
        elif not req.specifier.contains(version, prereleases=True):
            problems.append(f"{req.name}=={version} is outside {req.specifier}")
    assert not problems, "\n".join(problems)
