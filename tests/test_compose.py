"""docker-compose.yml stays in step with the settings.

Docker is not available where the tests run, so the compose file is checked by
reading it: every variable it hands the app must be one the settings read (a
misspelt name would otherwise be silently ignored and the default used), and
every app process must run the same image with the same wiring.
"""

import ast
from pathlib import Path

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
SETTINGS_DIR = REPO_ROOT / "platform" / "settings"

APP_SERVICES = ("migrate", "web", "worker", "beat")
EXPECTED_SERVICES = {"postgres", "redis", "minio", "createbucket", *APP_SERVICES}

# django-environ's typed readers (env.str("X"), environ.Env().bool("X"), ...).
# Matching on the method name alone is deliberate: it also catches readers on
# a fresh Env() or one imported under another name.
ENV_READER_METHODS = frozenset(
    {
        "str", "bool", "int", "float", "list", "tuple", "dict", "json", "url",
        "path", "db_url", "db", "cache_url", "cache", "email_url", "email",
        "search_url", "get_value",
    }
)  # fmt: skip


def load_compose(path: Path = COMPOSE_FILE) -> dict:
    with path.open() as f:
        return yaml.safe_load(f)


def service_environment(service: dict) -> dict[str, object]:
    """A service's environment as a dict, whichever of compose's two forms it uses."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        return dict(item.split("=", 1) if "=" in item else (item, None) for item in env)
    return dict(env)


def _first_string_arg(call: ast.Call) -> str | None:
    if call.args:
        arg = call.args[0]
    else:
        arg = next((kw.value for kw in call.keywords if kw.arg == "var"), None)
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
        return arg.value
    return None


def _is_os_environ(node: ast.expr) -> bool:
    return (isinstance(node, ast.Attribute) and node.attr == "environ") or (
        isinstance(node, ast.Name) and node.id == "environ"
    )


def env_names_read_by(source: str) -> set[str]:
    """Names of the environment variables a settings module reads."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name):
                # env("X"), getenv("X")
                reads_env = func.id in {"env", "getenv"}
            elif isinstance(func, ast.Attribute):
                # env.str("X"), environ.Env().int("X"), os.getenv("X"), os.environ.get("X")
                reads_env = (
                    func.attr in ENV_READER_METHODS
                    or func.attr == "getenv"
                    or (func.attr in {"get", "setdefault"} and _is_os_environ(func.value))
                )
            else:
                reads_env = False
            name = _first_string_arg(node) if reads_env else None
        elif isinstance(node, ast.Subscript) and _is_os_environ(node.value):
            # os.environ["X"]
            key = node.slice
            name = key.value if isinstance(key, ast.Constant) else None
        else:
            continue
        if isinstance(name, str):
            names.add(name)
    return names


def settings_env_names(settings_dir: Path = SETTINGS_DIR) -> set[str]:
    names = set()
    for module in sorted(settings_dir.glob("*.py")):
        names |= env_names_read_by(module.read_text())
    return names


def unknown_app_env_names(compose: dict, known: set[str]) -> dict[str, list[str]]:
    """Per app service, the variables it is given that no setting reads."""
    unknown = {}
    for name in APP_SERVICES:
        extra = sorted(set(service_environment(compose["services"][name])) - known)
        if extra:
            unknown[name] = extra
    return unknown


@pytest.fixture(scope="module")
def compose() -> dict:
    return load_compose()


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


def test_expected_services_exist(services):
    missing = EXPECTED_SERVICES - set(services)
    assert not missing, f"docker-compose.yml lacks services: {sorted(missing)}"


def test_app_services_share_one_image(services):
    # One image for all app processes, or web and worker can run different code.
    builds = {
        name: (services[name].get("image"), services[name].get("build")) for name in APP_SERVICES
    }
    assert len(set(builds.values())) == 1, f"app services differ in image/build: {builds}"
    image, build = next(iter(builds.values()))
    assert image and build, "app services need both an image name and a build"


@pytest.mark.parametrize("service", APP_SERVICES)
def test_app_service_has_database_and_redis(services, service):
    env = service_environment(services[service])
    for name in ("DATABASE_URL", "REDIS_URL"):
        assert env.get(name), f"{service} has no {name}"


@pytest.mark.parametrize("service", APP_SERVICES)
def test_app_service_env_values_are_strings(services, service):
    # A bare YAML true/false/number reaches compose as a non-string; some compose
    # versions reject booleans outright.
    env = service_environment(services[service])
    not_strings = {k: v for k, v in env.items() if not isinstance(v, str)}
    assert not not_strings, f"{service}: quote these environment values: {not_strings}"


def test_settings_parser_finds_the_core_variables():
    # Guards the check below: if the settings changed how they read variables
    # and the parser found nothing, every compose name would look unknown.
    names = settings_env_names()
    assert {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "DATA_DIR"} <= names, sorted(names)


def test_compose_sets_only_variables_the_settings_read(compose):
    known = settings_env_names()
    unknown = unknown_app_env_names(compose, known)
    assert not unknown, (
        "docker-compose.yml sets environment variables that platform/settings/*.py "
        f"never reads (misspelt, or the setting was removed): {unknown}. "
        f"Variables the settings read: {sorted(known)}"
    )


def test_unknown_variable_is_reported(compose):
    # The check above must be able to fail: a misspelt name is caught. The app
    # services share one environment mapping (a YAML alias), so the worker gets
    # a copy rather than an edit that every service would see.
    worker = dict(compose["services"]["worker"])
    worker["environment"] = {**service_environment(worker), "REDIS_ULR": "redis://redis:6379/0"}
    broken = {**compose, "services": {**compose["services"], "worker": worker}}
    assert "REDIS_ULR" in unknown_app_env_names(broken, settings_env_names()).get("worker", [])


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ('env.str("A", default="")', {"A"}),
        ('env.bool("A"); env.int("B"); env.float("C"); env.list("D")', {"A", "B", "C", "D"}),
        ('env.db_url("A"); env.json("B"); env.url("C")', {"A", "B", "C"}),
        ('env("A")', {"A"}),
        ('environ.Env().str("A")', {"A"}),
        ('env.str(var="A")', {"A"}),
        ('os.environ.get("A"); os.environ["B"]; os.getenv("C")', {"A", "B", "C"}),
        ('x = {"A": 1}.get("A"); env.str(NAME)', set()),
    ],
)
def test_env_reader_parser(source, expected):
    assert env_names_read_by(source) == expected


def test_minio_credentials_match_the_app(services):
    app = service_environment(services["web"])
    for service in ("minio", "createbucket"):
        env = service_environment(services[service])
        assert env["MINIO_ROOT_USER"] == app["AWS_ACCESS_KEY_ID"], service
        assert env["MINIO_ROOT_PASSWORD"] == app["AWS_SECRET_ACCESS_KEY"], service
    assert service_environment(services["createbucket"])["BUCKET"] == app["AWS_STORAGE_BUCKET_NAME"]


def test_secret_key_is_marked_as_a_placeholder(services):
    secret = service_environment(services["web"])["SECRET_KEY"]
    assert "change-me" in secret


@pytest.mark.parametrize("service", ["worker", "beat"])
def test_celery_services_use_the_project_app(services, service):
    command = services[service].get("command")
    text = command if isinstance(command, str) else " ".join(command or [])
    assert "conceptspro.celery" in text, f"{service} command: {command!r}"


def test_dependencies_wait_for_readiness(services):
    for service in ("web", "worker", "beat"):
        depends_on = services[service]["depends_on"]
        assert depends_on["migrate"]["condition"] == "service_completed_successfully", service
        assert depends_on["redis"]["condition"] == "service_healthy", service
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["createbucket"]["depends_on"]["minio"]["condition"] == "service_healthy"
    for service in ("postgres", "redis", "minio"):
        assert "healthcheck" in services[service], f"{service} needs a healthcheck"


def test_web_publishes_port_8000(services):
    assert any(str(port).split(":")[-2:] == ["8000", "8000"] for port in services["web"]["ports"])
