"""What the deployment tests read: the Dockerfile's instructions and the Kubernetes manifests,
and the bot started as the image starts it (its ENTRYPOINT and CMD, as they are written).

No container engine is needed: the image's command runs with the virtualenv's ``bin`` first
on ``PATH`` (where ``deliverables-bot`` and ``python`` are, as in the image).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from tests.processes import BotProcess

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
KUBERNETES = ROOT / "deploy" / "kubernetes"
VENV_BIN = Path(sys.executable).parent


def instructions(path: Path = DOCKERFILE) -> list[tuple[str, str]]:
    """The Dockerfile's instructions, ``(NAME, arguments)``, continuation lines joined and
    comments left out."""
    found: list[tuple[str, str]] = []
    pending = ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        whole = (pending + line).strip()
        pending = ""
        name, _, rest = whole.partition(" ")
        found.append((name.upper(), rest.strip()))
    return found


def instruction(name: str) -> str:
    """The arguments of the last ``name`` instruction (the one that counts)."""
    values = [rest for found, rest in instructions() if found == name]
    assert values, f"the Dockerfile has no {name}"
    return values[-1]


def exec_form(text: str) -> list[str]:
    """An instruction's exec form (a JSON array), as Docker reads it."""
    value = json.loads(text)
    assert isinstance(value, list) and all(isinstance(v, str) for v in value), text
    return value


def healthcheck_command() -> list[str]:
    """The HEALTHCHECK's command (its options left out), in exec form."""
    words = instruction("HEALTHCHECK")
    options, marker, command = words.partition("CMD ")
    assert marker, f"HEALTHCHECK without CMD: {words}"
    assert all(o.startswith("--") for o in options.split()), options
    return exec_form(command)


def image_env() -> dict[str, str]:
    """The variables the Dockerfile's ENV instructions set (``KEY=VALUE`` forms)."""
    env: dict[str, str] = {}
    for name, rest in instructions():
        if name == "ENV":
            for pair in rest.split():
                key, _, value = pair.partition("=")
                env[key] = value
    return env


def exposed_ports() -> set[int]:
    """The ports of the Dockerfile's EXPOSE instructions."""
    return {
        int(port.split("/")[0])
        for name, rest in instructions()
        if name == "EXPOSE"
        for port in rest.split()
    }


def manifest(name: str) -> dict[str, Any]:
    """A manifest of deploy/kubernetes, parsed."""
    document = yaml.safe_load((KUBERNETES / name).read_text(encoding="utf-8"))
    assert isinstance(document, dict), name
    return document


def container() -> dict[str, Any]:
    """The Deployment's one container."""
    [one] = manifest("deployment.yaml")["spec"]["template"]["spec"]["containers"]
    return one


def container_port(name_or_number: str | int) -> int:
    """A container port by its name (or itself, when it is a number)."""
    if isinstance(name_or_number, int):
        return name_or_number
    ports = {p["name"]: p["containerPort"] for p in container()["ports"]}
    return int(ports[name_or_number])


def manifest_env() -> dict[str, dict[str, Any]]:
    """The container's environment: each variable's entry (``value`` or ``valueFrom``)."""
    return {entry["name"]: entry for entry in container()["env"]}


def on_path(env: dict[str, str]) -> dict[str, str]:
    """``env`` with the virtualenv's ``bin`` first on ``PATH``, as the image's is."""
    return dict(env, PATH=f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}")


class ImageProcess(BotProcess):
    """The bot started with the image's command, ``ENTRYPOINT`` + ``CMD`` as written."""

    def __init__(self, argv: list[str], *, env: dict[str, str], folder: Path, name: str):
        self.args = list(argv)
        self.stdout_path = folder / f"{name}.stdout"
        self.stderr_path = folder / f"{name}.stderr"
        with self.stdout_path.open("wb") as out, self.stderr_path.open("wb") as err:
            self.proc = subprocess.Popen(
                argv, env=on_path(env), cwd=folder, stdout=out, stderr=err, stdin=subprocess.DEVNULL
            )


def image_command() -> list[str]:
    """What the container runs: the Dockerfile's ENTRYPOINT followed by its CMD."""
    return exec_form(instruction("ENTRYPOINT")) + exec_form(instruction("CMD"))


@contextmanager
def as_the_image(
    *, env: dict[str, str], folder: Path, name: str = "image"
) -> Iterator[ImageProcess]:
    """Run the image's command (stopped when the block ends, however it ends)."""
    process = ImageProcess(image_command(), env=env, folder=folder, name=name)
    with process:
        yield process
