"""docker-compose.yml agrees with the settings: the services exist and check their health, and
web/worker pass only environment variables that config/settings.py actually reads, pointing at
the compose services."""

import ast
import json
import re
import shlex
from urllib.parse import urlsplit

import pytest
import yaml

from tests.conftest import REPO_ROOT

BASE_SERVICES = {"postgres", "redis", "web", "worker"}
GPU_SERVICES = {"vllm-generator": 8001, "vllm-reward": 8002}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


def settings_env_names() -> set[str]:
    """The environment variables config/settings.py reads, from its syntax tree: `env.get("X")`,
    `env["X"]`, `env_bool("X", ...)`, `env_int("X", ...)`, and the keys INFERENCE_ENV copies."""
    tree = ast.parse((REPO_ROOT / "config" / "settings.py").read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = node.func
            if (isinstance(func, ast.Name) and func.id in ("env_bool", "env_int")) or (
                isinstance(func, ast.Attribute)
                and func.attr == "get"
                and isinstance(func.value, ast.Name)
                and func.value.id == "env"
            ):
                names.add(node.args[0].value)
        if (
            isinstance(node, ast.Subscript)
            and isinstance(node.value, ast.Name)
            and node.value.id == "env"
            and isinstance(node.slice, ast.Constant)
        ):
            names.add(node.slice.value)
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "INFERENCE_ENV" for t in node.targets
        ):
            names |= {
                c.value
                for c in ast.walk(node.value)
                if isinstance(c, ast.Constant) and isinstance(c.value, str)
            }
    return {name for name in names if isinstance(name, str) and name.isupper()}


def default_of(value: str) -> str:
    """`${NAME:-default}` -> default; plain text unchanged."""
    match = re.fullmatch(r"\$\{[A-Z0-9_]+:-(.*)\}", str(value))
    return match.group(1) if match else str(value)


def test_settings_env_names_are_found():
    names = settings_env_names()
    assert {"DATABASE_URL", "DJANGO_SECRET_KEY", "DJANGO_DEBUG", "GENERATOR_URL"} <= names
    assert {"MEDIATION_ALPHA", "REWARD_MODEL", "CELERY_BROKER_URL"} <= names


def test_the_base_services_run_without_a_profile(services):
    assert BASE_SERVICES <= set(services)
    for name in BASE_SERVICES:
        assert "profiles" not in services[name], f"{name} must start with a plain `up`"


def test_the_model_servers_run_only_under_the_gpu_profile(services):
    for name, port in GPU_SERVICES.items():
        service = services[name]
        assert service["profiles"] == ["gpu"]
        assert service["image"].startswith("vllm/vllm-openai")
        command = service["command"]
        assert command[command.index("--port") + 1] == str(port)
        devices = service["deploy"]["resources"]["reservations"]["devices"]
        assert any("gpu" in device["capabilities"] for device in devices)
    assert "${GENERATOR_MODEL}" in services["vllm-generator"]["command"]
    reward = services["vllm-reward"]["command"]
    assert "${REWARD_MODEL}" in reward
    assert reward[reward.index("--runner") + 1] == "pooling"


@pytest.mark.parametrize("name", sorted(BASE_SERVICES | set(GPU_SERVICES)))
def test_every_service_has_a_healthcheck(services, name):
    test = services[name]["healthcheck"]["test"]
    assert test and test[0] in ("CMD", "CMD-SHELL")


def test_health_checks_use_the_right_probes(services):
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    assert "redis-cli ping" in " ".join(services["redis"]["healthcheck"]["test"])
    assert "/healthz/" in " ".join(services["web"]["healthcheck"]["test"])
    for name, port in GPU_SERVICES.items():
        assert f":{port}/health" in " ".join(services[name]["healthcheck"]["test"])


def test_published_ports(services):
    assert "8000:8000" in services["web"]["ports"]
    for name, port in GPU_SERVICES.items():
        assert f"{port}:{port}" in services[name]["ports"]


def test_web_and_worker_wait_for_healthy_postgres_and_redis(services):
    for name in ("web", "worker"):
        depends = services[name]["depends_on"]
        assert depends["postgres"]["condition"] == "service_healthy"
        assert depends["redis"]["condition"] == "service_healthy"


def test_web_migrates_then_serves_with_gunicorn_and_worker_runs_beat(services):
    web = services["web"]["command"]
    assert web.index("migrate") < web.index("gunicorn config.wsgi")
    assert "0.0.0.0:8000" in web
    assert services["worker"]["command"].startswith("celery -A config worker --beat")


@pytest.mark.parametrize("name", ["web", "worker"])
def test_app_environment_names_are_ones_settings_reads(services, name):
    unknown = set(services[name]["environment"]) - settings_env_names()
    assert not unknown, f"{name} sets variables config/settings.py never reads: {unknown}"


def test_web_and_worker_share_one_environment(services):
    assert services["web"]["environment"] == services["worker"]["environment"]
    assert services["web"]["image"] == services["worker"]["image"]


def test_urls_point_at_the_compose_services(services):
    environment = services["web"]["environment"]
    expected = {
        "DATABASE_URL": ("postgres", 5432),
        "REDIS_URL": ("redis", 6379),
        "CELERY_BROKER_URL": ("redis", 6379),
        "GENERATOR_URL": ("vllm-generator", 8001),
        "REWARD_URL": ("vllm-reward", 8002),
    }
    for variable, (host, port) in expected.items():
        url = urlsplit(default_of(environment[variable]))
        assert (url.hostname, url.port) == (host, port), variable
    assert default_of(environment["GENERATOR_URL"]) == "http://vllm-generator:8001/v1"
    assert urlsplit(default_of(environment["DATABASE_URL"])).path == "/commonground"
    assert default_of(environment["REDIS_URL"]) != default_of(environment["CELERY_BROKER_URL"])


def test_the_secret_key_is_required_not_defaulted(services):
    assert re.fullmatch(
        r"\$\{DJANGO_SECRET_KEY:\?.+\}", services["web"]["environment"]["DJANGO_SECRET_KEY"]
    )


def test_postgres_and_model_caches_keep_their_data(compose, services):
    assert any(v.endswith(":/var/lib/postgresql/data") for v in services["postgres"]["volumes"])
    assert "postgres-data" in compose["volumes"]


def test_env_example_names_are_settings_or_compose_variables():
    compose_only = {"POSTGRES_PASSWORD", "HF_TOKEN", "VLLM_TAG"}
    text = (REPO_ROOT / ".env.example").read_text()
    names = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", text, re.M))
    assert "DJANGO_SECRET_KEY" in names
    assert names - compose_only <= settings_env_names()


def dockerfile() -> list[tuple[str, str]]:
    """The Dockerfile's instructions as (INSTRUCTION, arguments), continuation lines joined and
    comments dropped."""
    text = re.sub(r"\\\n\s*", " ", (REPO_ROOT / "Dockerfile").read_text())
    instructions = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, arguments = line.partition(" ")
            instructions.append((keyword.upper(), arguments.strip()))
    return instructions


def runs(instructions) -> list[list[str]]:
    return [shlex.split(arguments) for keyword, arguments in instructions if keyword == "RUN"]


def first_index(instructions, keyword: str, predicate) -> int:
    return next(
        i for i, (k, arguments) in enumerate(instructions) if k == keyword and predicate(arguments)
    )


def test_the_image_installs_cpu_torch_pinned_as_the_makefile_does_before_the_app():
    instructions = dockerfile()
    assert [a for k, a in instructions if k == "FROM"] == ["python:3.11-slim"]
    makefile_pin = re.search(
        r"pip install --quiet (torch==\S+)", (REPO_ROOT / "Makefile").read_text()
    )
    torch = next(argv for argv in runs(instructions) if "torch" in " ".join(argv))
    assert torch[:2] == ["pip", "install"]
    assert makefile_pin.group(1) in torch  # the same pin as `make install`
    assert torch[torch.index("--index-url") + 1] == "https://download.pytorch.org/whl/cpu"
    torch_at = first_index(instructions, "RUN", lambda a: "torch==" in a)
    app_at = first_index(instructions, "RUN", lambda a: '".[ml]"' in a)
    assert torch_at < app_at  # else pip would resolve torch from PyPI, with CUDA


def test_the_image_holds_every_package_the_project_installs_and_the_files_it_serves():
    instructions = dockerfile()
    copied = {a.split()[0] for k, a in instructions if k == "COPY"}
    packages = re.search(r"include = \[(.*?)\]", (REPO_ROOT / "pyproject.toml").read_text())
    for package in re.findall(r'"(\w+)\*"', packages.group(1)):
        assert package in copied, f"the image lacks {package}/, which the project installs"
        assert first_index(instructions, "COPY", lambda a, p=package: a.startswith(p + " ")) < (
            first_index(instructions, "RUN", lambda a: '".[ml]"' in a)
        )
    assert {"manage.py", "templates", "static", "locale"} <= copied
    collect = first_index(instructions, "RUN", lambda a: "collectstatic --noinput" in a)
    assert collect > first_index(instructions, "COPY", lambda a: a.startswith("static "))


def test_the_image_runs_as_a_user_and_serves_on_the_port_compose_publishes(services):
    instructions = dockerfile()
    users = [a for k, a in instructions if k == "USER"]
    assert users and users[-1] not in ("root", "0")
    cmd = json.loads(next(a for k, a in instructions if k == "CMD"))
    bind = cmd[cmd.index("--bind") + 1]
    port = bind.rpartition(":")[2]
    assert [a for k, a in instructions if k == "EXPOSE"] == [port]
    assert f"{port}:{port}" in services["web"]["ports"]
    assert f"0.0.0.0:{port}" in services["web"]["command"]
    assert f":{port}/healthz/" in " ".join(services["web"]["healthcheck"]["test"])


def test_a_worker_that_stops_consuming_is_restarted(services):
    worker = services["worker"]
    check = " ".join(worker["healthcheck"]["test"])
    # The ping goes through the broker to this worker's own node, within a bound.
    assert "inspect ping -d celery@$$HOSTNAME" in check
    assert re.search(r"--timeout \d+", check)
    assert worker["labels"]["autoheal"] == "true"
    autoheal = services["autoheal"]
    assert autoheal["environment"]["AUTOHEAL_CONTAINER_LABEL"] == "autoheal"
    assert "/var/run/docker.sock:/var/run/docker.sock" in autoheal["volumes"]


def test_web_and_worker_share_the_export_storage(services):
    """The worker writes export files, web serves their downloads: one volume at the folder."""
    for name in ("web", "worker"):
        service = services[name]
        location = service["environment"]["EXPORT_STORAGE_LOCATION"]
        assert f"exports:{location}" in service["volumes"], name
