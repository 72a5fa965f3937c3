"""The replicated Kubernetes variant (deploy/kubernetes/replicated/), read as a cluster reads it.

Several replicas share one PostgreSQL database (``DATABASE_URL`` from the Secret), so the
variant promises what several pods need and the single-replica one must not do: two or more
replicas, a rolling update that never has fewer ready pods than asked for, a disruption
budget and a spread over nodes that select exactly the Deployment's pods, no volume claim
(nothing durable in the data folder), a grace period long enough for the deliveries in hand.
Every manifest is validated offline with the same schemas and strictness as the single
variant's (tests/deploy/test_manifests.py); what the two share (Service, probes, resources,
security context, environment but DATABASE_URL) is held equal, so they cannot drift apart.
"""

from __future__ import annotations

import copy
import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from bot.config import Config
from tests.deploy.support import KUBERNETES, ROOT, image_env, manifest
from tests.deploy.test_manifests import KUBERNETES_VERSION, SECRET_NAMES

REPLICATED = KUBERNETES / "replicated"
APPLIED = ("deployment.yaml", "service.yaml", "pdb.yaml")  # what the kustomization applies
MANIFESTS = (*APPLIED, "secret.example.yaml")
DATABASE_URL = "DATABASE_URL"


def replicated(name: str) -> dict[str, Any]:
    """A manifest of deploy/kubernetes/replicated, parsed."""
    return manifest(f"replicated/{name}")


def pod_spec(deployment: dict[str, Any]) -> dict[str, Any]:
    """A Deployment's pod template spec."""
    spec: dict[str, Any] = deployment["spec"]["template"]["spec"]
    return spec


def the_container(deployment: dict[str, Any]) -> dict[str, Any]:
    """A Deployment's one container."""
    [one] = pod_spec(deployment)["containers"]
    return one


def env_of(deployment: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """A Deployment's container environment: each variable's entry by name."""
    return {entry["name"]: entry for entry in the_container(deployment)["env"]}


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """Whether a Kubernetes label selector (``matchLabels`` and ``matchExpressions``)
    selects a pod with ``labels``, as the API server evaluates it. An empty selector selects
    everything, which no selector here should be."""
    for key, value in selector.get("matchLabels", {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions", []):
        key, operator = expression["key"], expression["operator"]
        values = expression.get("values", [])
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and key in labels and labels[key] in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
    return True


def budget_problems(deployment: dict[str, Any], budget: dict[str, Any]) -> list[str]:
    """What is wrong with a PodDisruptionBudget for a Deployment: it must select the
    Deployment's pods and nothing more (its selector is the Deployment's own), and allow one
    eviction at a time while keeping at least one pod."""
    problems = []
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    selector = budget["spec"].get("selector", {})
    if not selector:
        problems.append("the budget has no selector (it would select every pod)")
    elif not selects(selector, labels):
        problems.append(f"the budget's selector {selector} does not select the pods {labels}")
    elif selector != deployment["spec"]["selector"]:
        problems.append(
            f"the budget's selector {selector} is not the Deployment's "
            f"{deployment['spec']['selector']} (it may select other pods)"
        )
    replicas = deployment["spec"]["replicas"]
    spec = budget["spec"]
    if ("minAvailable" in spec) == ("maxUnavailable" in spec):
        problems.append("the budget needs exactly one of minAvailable and maxUnavailable")
    elif "maxUnavailable" in spec and not 1 <= spec["maxUnavailable"] < replicas:
        problems.append(f"maxUnavailable {spec['maxUnavailable']} of {replicas} replicas")
    elif "minAvailable" in spec and not 1 <= spec["minAvailable"] < replicas:
        problems.append(f"minAvailable {spec['minAvailable']} of {replicas} replicas")
    return problems


def leading_comment(path: Path) -> str:
    """The comment lines a YAML file opens with, ``#`` removed, joined."""
    lines = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        lines.append(line.lstrip("#").strip())
    return " ".join(lines)


@pytest.mark.parametrize("name", MANIFESTS)
def test_every_manifest_is_valid_kubernetes(name: str) -> None:
    assert kubernetes_validate.validate(replicated(name), KUBERNETES_VERSION, strict=True)


def test_the_kustomization_applies_everything_but_the_example_secret_from_its_folder() -> None:
    kustomization = replicated("kustomization.yaml")
    assert kustomization["apiVersion"] == "kustomize.config.k8s.io/v1beta1"
    assert kustomization["kind"] == "Kustomization"
    resources = kustomization["resources"]
    assert sorted(resources) == sorted(APPLIED)
    # kustomize refuses a file outside the kustomization's folder (`../service.yaml`)
    assert all("/" not in r and (REPLICATED / r).is_file() for r in resources)
    assert {"secret.example.yaml", *resources, "kustomization.yaml"} == {
        p.name for p in REPLICATED.glob("*.yaml")
    }
    # the same image as the single variant: one release, two ways to run it
    assert kustomization["images"] == manifest("kustomization.yaml")["images"]
    [image] = kustomization["images"]
    assert the_container(replicated("deployment.yaml"))["image"].split(":")[0] == image["name"]


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
def test_kubectl_renders_the_kustomization_into_valid_manifests() -> None:
    rendered = subprocess.run(
        ["kubectl", "kustomize", str(REPLICATED)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert rendered.returncode == 0, rendered.stderr
    documents = [d for d in yaml.safe_load_all(rendered.stdout) if d]
    assert sorted(d["kind"] for d in documents) == [
        "Deployment",
        "PodDisruptionBudget",
        "Service",
    ]
    for document in documents:
        assert kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)
    [deployment] = [d for d in documents if d["kind"] == "Deployment"]
    [image] = replicated("kustomization.yaml")["images"]
    assert the_container(deployment)["image"] == f"{image['newName']}:{image['newTag']}"
    written = replicated("deployment.yaml")
    the_container(written)["image"] = the_container(deployment)["image"]
    assert deployment == written  # nothing else changed on the way


def test_several_replicas_rolled_without_ever_fewer_ready_pods() -> None:
    deployment = replicated("deployment.yaml")
    spec = deployment["spec"]
    assert spec["replicas"] >= 2
    assert spec["strategy"]["type"] == "RollingUpdate"
    rolling = spec["strategy"]["rollingUpdate"]
    assert rolling["maxUnavailable"] in (0, "0%")
    assert rolling["maxSurge"] == 1
    # maxUnavailable 0 waits on readiness: without a readiness probe a pod is ready at once
    assert the_container(deployment)["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert selects(spec["selector"], spec["template"]["metadata"]["labels"])


def test_the_disruption_budget_covers_exactly_the_deployments_pods() -> None:
    budget = replicated("pdb.yaml")
    assert (budget["apiVersion"], budget["kind"]) == ("policy/v1", "PodDisruptionBudget")
    assert budget_problems(replicated("deployment.yaml"), budget) == []


def test_a_budget_that_misses_the_pods_or_blocks_drains_is_caught() -> None:
    deployment, budget = replicated("deployment.yaml"), replicated("pdb.yaml")
    [key] = budget["spec"]["selector"]["matchLabels"]

    typo = copy.deepcopy(budget)
    typo["spec"]["selector"]["matchLabels"][key] = "deliverable-bot"
    assert "does not select the pods" in " ".join(budget_problems(deployment, typo))

    broad = copy.deepcopy(budget)
    broad["spec"]["selector"] = {"matchExpressions": [{"key": key, "operator": "Exists"}]}
    assert "may select other pods" in " ".join(budget_problems(deployment, broad))

    blocking = copy.deepcopy(budget)
    blocking["spec"].pop("maxUnavailable", None)
    blocking["spec"]["minAvailable"] = deployment["spec"]["replicas"]
    assert "minAvailable" in " ".join(budget_problems(deployment, blocking))


def test_the_service_is_the_single_variants_and_selects_the_pods() -> None:
    service = replicated("service.yaml")
    assert service == manifest("service.yaml")
    labels = replicated("deployment.yaml")["spec"]["template"]["metadata"]["labels"]
    assert selects({"matchLabels": service["spec"]["selector"]}, labels)


def test_replicas_are_spread_over_nodes_without_being_left_pending() -> None:
    deployment = replicated("deployment.yaml")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    constraints = {c["topologyKey"]: c for c in pod_spec(deployment)["topologySpreadConstraints"]}
    assert "kubernetes.io/hostname" in constraints
    for constraint in constraints.values():
        # a constraint whose selector misses the pods spreads nothing
        assert selects(constraint["labelSelector"], labels), constraint
        assert constraint["whenUnsatisfiable"] == "ScheduleAnyway"  # preferred, not required
        assert constraint["maxSkew"] == 1


def test_database_url_comes_from_a_key_the_example_secret_defines() -> None:
    deployment, secret = replicated("deployment.yaml"), replicated("secret.example.yaml")
    env = env_of(deployment)
    entry = env[DATABASE_URL]
    assert "value" not in entry  # never in the manifest itself
    ref = entry["valueFrom"]["secretKeyRef"]
    # not optional: a pod without it would fall back to its own SQLite file, one per pod
    assert ref.get("optional", False) is False
    assert ref["name"] == secret["metadata"]["name"]
    assert secret["stringData"][ref["key"]].startswith("postgresql://")
    refs = {
        name: e["valueFrom"]["secretKeyRef"]
        for name, e in env.items()
        if "secretKeyRef" in e.get("valueFrom", {})
    }
    assert set(refs) == {*SECRET_NAMES, DATABASE_URL}
    assert {r["name"] for r in refs.values()} == {secret["metadata"]["name"]}
    assert {r["key"] for r in refs.values()} == set(secret["stringData"])
    # the single variant's secret with one key more: one Secret serves both variants
    single = manifest("secret.example.yaml")
    assert secret["metadata"] == single["metadata"]
    assert set(secret["stringData"]) == {*single["stringData"], ref["key"]}
    assert {k: secret["stringData"][k] for k in single["stringData"]} == single["stringData"]


def test_database_url_is_a_variable_the_bot_reads() -> None:
    sources = [p.read_text(encoding="utf-8") for p in (ROOT / "bot").rglob("*.py")]
    assert any(f'"{DATABASE_URL}"' in text for text in sources), "the bot never reads it"


def test_no_volume_claim_the_data_folder_is_an_empty_dir() -> None:
    for path in REPLICATED.glob("*.yaml"):
        for document in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            assert document.get("kind") != "PersistentVolumeClaim", path.name
    deployment = replicated("deployment.yaml")
    volumes = {v["name"]: v for v in pod_spec(deployment)["volumes"]}
    assert not any("persistentVolumeClaim" in v for v in volumes.values())
    mounts = {m["mountPath"]: m["name"] for m in the_container(deployment)["volumeMounts"]}
    data = env_of(deployment)["DELIVERABLES_BOT_DATA"]["value"]
    assert data == image_env()["DELIVERABLES_BOT_DATA"]
    assert set(volumes[mounts[data]]) == {"name", "emptyDir"}
    assert "emptyDir" in volumes[mounts["/tmp"]]  # the root filesystem is read-only


def test_the_container_is_the_single_variants_with_database_url_added() -> None:
    ours, single = replicated("deployment.yaml"), manifest("deployment.yaml")
    mine, theirs = the_container(ours), the_container(single)
    for key in (
        "image",
        "imagePullPolicy",
        "args",
        "ports",
        "livenessProbe",
        "readinessProbe",
        "resources",
        "securityContext",
    ):
        assert mine[key] == theirs[key], key
    assert mine["volumeMounts"] == theirs["volumeMounts"]
    env = env_of(ours)
    assert {name: e for name, e in env.items() if name != DATABASE_URL} == env_of(single)
    assert pod_spec(ours)["securityContext"] == pod_spec(single)["securityContext"]
    assert ours["spec"]["selector"] == single["spec"]["selector"]
    assert ours["spec"]["template"]["metadata"] == single["spec"]["template"]["metadata"]


def test_the_grace_period_lets_the_deliveries_in_hand_finish() -> None:
    deployment, single = replicated("deployment.yaml"), manifest("deployment.yaml")
    grace = pod_spec(deployment)["terminationGracePeriodSeconds"]
    pause = the_container(deployment)["lifecycle"]["preStop"]["exec"]["command"]
    assert pause[0] == "sleep"
    defaults = Config()
    # the pause, then a GitHub call and an Airtable call in hand, each at its timeout
    needed = float(pause[1]) + defaults.github.timeout_seconds + defaults.airtable.timeout_seconds
    assert grace >= needed, (grace, needed)
    assert grace > pod_spec(single)["terminationGracePeriodSeconds"]


def test_the_single_variant_still_recreates_its_one_replica_and_says_why() -> None:
    spec = manifest("deployment.yaml")["spec"]
    assert spec["replicas"] == 1
    assert spec["strategy"] == {"type": "Recreate"}
    volumes = {v["name"]: v for v in spec["template"]["spec"]["volumes"]}
    assert "persistentVolumeClaim" in volumes["data"]
    why = leading_comment(KUBERNETES / "deployment.yaml")
    assert "SQLite" in why and "volume" in why and "Recreate" in why
    assert "replicated/" in why  # and where to go for more than one
