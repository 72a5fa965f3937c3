"""The Kubernetes manifests and the Dockerfile, read as a cluster and Docker would read them.

Every manifest is validated offline against the Kubernetes API schemas that
kubernetes-validate bundles (strict: an unknown field is an error). Then what the manifests
promise is checked against the bot itself: one replica replaced with Recreate (one SQLite
journal), probes on routes the bot serves, secrets under the names the configuration reads,
the ports the Dockerfile exposes, a security context the image satisfies.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
from kubernetes_validate import utils as validate_utils

from bot.app import SERVICES_KEY, make_app
from bot.config import Config
from tests.deploy.support import (
    DOCKERFILE,
    KUBERNETES,
    ROOT,
    container,
    container_port,
    exposed_ports,
    image_command,
    image_env,
    instruction,
    instructions,
    manifest,
    manifest_env,
)

# A Kubernetes version whose schemas kubernetes-validate carries in its package (no network).
KUBERNETES_VERSION = "1.33.0"
MANIFESTS = ("deployment.yaml", "pvc.yaml", "service.yaml", "secret.example.yaml")
SECRET_NAMES = (
    "GITHUB_APP_ID",
    "GITHUB_PRIVATE_KEY",
    "GITHUB_WEBHOOK_SECRET",
    "AIRTABLE_TOKEN",
    "AIRTABLE_BASE_ID",
)
USER = 10001


def variables_read(path: Path) -> set[str]:
    """The names a module reads from its environment: ``env.get("NAME")``, ``env["NAME"]``
    and ``environ.get("NAME", ...)``."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "get"
            and isinstance(node.func.value, ast.Name | ast.Attribute)
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
            and node.args[0].value.isupper()
        ):
            names.add(node.args[0].value)
    return names


def test_the_schemas_are_bundled_so_validation_is_offline() -> None:
    assert KUBERNETES_VERSION in validate_utils.all_versions()


@pytest.mark.parametrize("name", MANIFESTS)
def test_every_manifest_is_valid_kubernetes(name: str) -> None:
    document = manifest(name)
    assert kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)


def test_validation_is_strict_about_unknown_fields() -> None:
    document = manifest("deployment.yaml")
    document["spec"]["replica"] = 1  # a typo a lenient check lets through
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)


def test_the_kustomization_applies_everything_but_the_example_secret() -> None:
    kustomization = manifest("kustomization.yaml")
    assert kustomization["apiVersion"] == "kustomize.config.k8s.io/v1beta1"
    assert kustomization["kind"] == "Kustomization"
    resources = kustomization["resources"]
    assert sorted(resources) == sorted(set(MANIFESTS) - {"secret.example.yaml"})
    assert all((KUBERNETES / r).is_file() for r in resources)
    assert {"secret.example.yaml", *resources, "kustomization.yaml"} == {
        p.name for p in KUBERNETES.glob("*.yaml")
    }
    [image] = kustomization["images"]
    assert container()["image"].split(":")[0] == image["name"]


def test_one_replica_replaced_with_recreate_for_the_sqlite_journal() -> None:
    text = (KUBERNETES / "deployment.yaml").read_text(encoding="utf-8")
    spec = manifest("deployment.yaml")["spec"]
    assert spec["replicas"] == 1
    assert spec["strategy"] == {"type": "Recreate"}
    assert "SQLite" in text and "ONE replica" in text  # the comment says why


def test_the_journal_is_on_a_read_write_once_claim_mounted_at_the_data_folder() -> None:
    claim = manifest("pvc.yaml")
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    pod = manifest("deployment.yaml")["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["mountPath"]: m["name"] for m in container()["volumeMounts"]}
    data = manifest_env()["DELIVERABLES_BOT_DATA"]["value"]
    assert data == image_env()["DELIVERABLES_BOT_DATA"] == "/data"
    assert (
        volumes[mounts[data]]["persistentVolumeClaim"]["claimName"] == (claim["metadata"]["name"])
    )
    assert "emptyDir" in volumes[mounts["/tmp"]]
    assert f'VOLUME ["{data}"]' in DOCKERFILE.read_text(encoding="utf-8")


def test_probes_ask_routes_the_bot_serves(tmp_path: Path) -> None:
    app = make_app(Config(data_dir=tmp_path), secret="s")
    app[SERVICES_KEY].journal.close()
    served = {r.resource.canonical for r in app.router.routes() if r.method == "GET" and r.resource}
    probes = container()
    assert probes["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert probes["readinessProbe"]["httpGet"]["path"] == "/readyz"
    for probe in ("livenessProbe", "readinessProbe"):
        get = probes[probe]["httpGet"]
        assert get["path"] in served, (probe, served)
        assert container_port(get["port"]) == int(manifest_env()["PORT"]["value"])


def test_secrets_are_the_variables_the_configuration_reads() -> None:
    read = variables_read(ROOT / "bot" / "config_loader.py")
    env = manifest_env()
    refs = {
        name: entry["valueFrom"]["secretKeyRef"]
        for name, entry in env.items()
        if "secretKeyRef" in entry.get("valueFrom", {})
    }
    assert set(refs) == set(SECRET_NAMES)
    assert set(refs) <= read, set(refs) - read
    secret = manifest("secret.example.yaml")
    assert {ref["name"] for ref in refs.values()} == {secret["metadata"]["name"]}
    assert {ref["key"] for ref in refs.values()} == set(secret["stringData"])
    for name, entry in env.items():
        if "value" in entry:
            assert any(
                f'"{name}"' in p.read_text(encoding="utf-8") for p in (ROOT / "bot").rglob("*.py")
            ), f"{name} is set in the Deployment but the bot never reads it"


def test_ports_agree_between_dockerfile_deployment_and_service() -> None:
    env = manifest_env()
    web, metrics = int(env["PORT"]["value"]), int(env["METRICS_PORT"]["value"])
    assert {web, metrics} == exposed_ports()
    assert container_port("http") == web == int(image_env()["PORT"])
    assert container_port("metrics") == metrics == int(image_env()["METRICS_PORT"])
    service = manifest("service.yaml")
    targets = {p["name"]: container_port(p["targetPort"]) for p in service["spec"]["ports"]}
    assert targets == {"http": web, "metrics": metrics}
    selector = service["spec"]["selector"]
    labels = manifest("deployment.yaml")["spec"]["template"]["metadata"]["labels"]
    assert selector.items() <= labels.items()


def test_the_pod_runs_as_the_images_user_on_a_read_only_root() -> None:
    pod = manifest("deployment.yaml")["spec"]["template"]["spec"]
    context: dict[str, Any] = container()["securityContext"]
    assert context["runAsNonRoot"] is True and context["runAsUser"] == USER
    assert context["readOnlyRootFilesystem"] is True
    assert context["allowPrivilegeEscalation"] is False
    assert pod["securityContext"]["fsGroup"] == USER
    assert instruction("USER").split(":")[0] == str(USER)
    assert f"--uid {USER}" in instruction("RUN") and f"chown {USER}:{USER} /data" in (
        instruction("RUN")
    )
    resources = container()["resources"]
    assert set(resources) == {"requests", "limits"}
    assert {"cpu", "memory"} <= set(resources["requests"]) & set(resources["limits"])


def test_the_container_runs_what_the_image_runs_with_json_logs() -> None:
    assert image_command() == ["deliverables-bot", "serve", "--host", "0.0.0.0"]
    assert container()["args"] == image_command()[1:]
    assert manifest_env()["LOG_FORMAT"]["value"] == "json"


def test_the_image_installs_the_project_without_test_extras_or_cache() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    assert instruction("FROM") == "python:3.11-slim"
    assert "pip install --no-cache-dir /tmp/src" in text and "[test]" not in text
    kept = {
        line[1:].rstrip("/")
        for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.startswith("!")
    }
    assert "*" in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    copied = {
        source.rstrip("/")
        for name, rest in instructions()
        if name == "COPY"
        for source in rest.split()[:-1]
    }
    assert copied == kept  # only what the COPY instructions need reaches the build
