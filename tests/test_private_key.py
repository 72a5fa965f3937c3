"""The GitHub App's private key in the forms it is carried in, and refused in one line otherwise.

Accepted: the PEM file GitHub generates, that text with literal ``\\n`` sequences (CI secrets),
base64 of it (Kubernetes secrets), pasted with its quotes, with Windows line ends, or read
from ``GITHUB_PRIVATE_KEY_PATH``. Each is proven by ``check`` getting the App's JWT accepted
by the GitHub stand-in. Anything else is a configuration problem saying what form is
expected, for every command, without a traceback and without the key.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from bot.airtable_local.thread import LocalAirtable
from bot.config import ConfigError
from bot.config_loader import load_config, normalize_private_key
from tests.operator_helpers import operator_env, run_bot
from tests.standins.github import GitHubStandIn, app_private_key_pem

EXPECTED_FORM = "expected the GitHub App's private key as GitHub generates it"


def _pem() -> str:
    return app_private_key_pem()


def _ec_key() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def _public_key() -> str:
    key = serialization.load_pem_private_key(_pem().encode(), password=None)
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


ACCEPTED: list[object] = [
    pytest.param(_pem, id="pem"),
    pytest.param(lambda: _pem().replace("\n", "\\n"), id="literal-backslash-n"),
    pytest.param(lambda: base64.b64encode(_pem().encode()).decode(), id="base64"),
    pytest.param(lambda: base64.encodebytes(_pem().encode()).decode(), id="base64-wrapped-lines"),
    pytest.param(lambda: '"' + _pem().replace("\n", "\\n") + '"', id="quoted-literal-n"),
    pytest.param(lambda: _pem().replace("\n", "\r\n"), id="crlf"),
    pytest.param(lambda: "\n  " + _pem() + "\n\n", id="surrounding-blank"),
]

REFUSED: list[object] = [
    pytest.param(lambda: "pem", "not a PEM private key", id="a-word"),
    pytest.param(
        lambda: "\n".join(_pem().splitlines()[:5] + _pem().splitlines()[-1:]),
        "not a usable PEM private key",
        id="truncated",
    ),
    pytest.param(_public_key, "not a usable PEM private key", id="public-key"),
    pytest.param(_ec_key, "not an RSA key", id="ec-key"),
    pytest.param(
        lambda: base64.b64encode(b"hello world").decode(), "not a usable", id="base64-of-text"
    ),
    pytest.param(lambda: "ssh-rsa AAAAB3NzaC1yc2E", "not a PEM private key", id="ssh-public"),
]


@pytest.mark.parametrize("make", ACCEPTED)
def test_accepted_forms_normalise_to_the_pem(make: Callable[[], str]) -> None:
    assert normalize_private_key(make()) == _pem()


@pytest.mark.parametrize(("make", "problem"), REFUSED)
def test_refused_forms_say_what_is_expected(make: Callable[[], str], problem: str) -> None:
    key = make()
    with pytest.raises(ConfigError) as error:
        load_config({"GITHUB_APP_ID": "1", "GITHUB_PRIVATE_KEY": key})
    (line,) = error.value.problems
    assert line.startswith("GITHUB_PRIVATE_KEY: ") and problem in line
    if problem != "not an RSA key":
        assert EXPECTED_FORM in line
    assert key.strip() not in line or len(key) < 10  # never the key itself


@pytest.mark.parametrize("make", ACCEPTED)
def test_check_gets_the_jwt_accepted_with_each_form(
    tmp_path: Path,
    local_airtable: LocalAirtable,
    github: GitHubStandIn,
    make: Callable[[], str],
) -> None:
    env = operator_env(tmp_path, local_airtable, github, GITHUB_PRIVATE_KEY=make())
    result = run_bot("check", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "JWT accepted" in result.stdout


def test_a_key_file_in_base64_is_accepted(
    tmp_path: Path, local_airtable: LocalAirtable, github: GitHubStandIn
) -> None:
    path = tmp_path / "key.b64"
    path.write_text(base64.b64encode(_pem().encode()).decode())
    env = operator_env(tmp_path, local_airtable, github, GITHUB_PRIVATE_KEY_PATH=str(path))
    del env["GITHUB_PRIVATE_KEY"]
    result = run_bot("check", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    "command",
    [("check",), ("sync",), ("audit",), ("serve", "--port", "0"), ("report",)],
    ids=lambda c: c[0],
)
def test_a_malformed_key_is_one_problem_for_every_command(
    tmp_path: Path, local_airtable: LocalAirtable, github: GitHubStandIn, command: tuple[str, ...]
) -> None:
    key = "-----BEGIN RSA PRIVATE KEY-----\nMIIB-not-a-key\n-----END RSA PRIVATE KEY-----\n"
    env = operator_env(tmp_path, local_airtable, github, GITHUB_PRIVATE_KEY=key)
    result = run_bot(*command, env=env, cwd=tmp_path)
    out = result.stdout + result.stderr
    assert "Traceback" not in out
    assert "public key" not in out  # PyJWT's misleading words never reach the operator
    assert "MIIB-not-a-key" not in out
    problem = [line for line in out.splitlines() if "GITHUB_PRIVATE_KEY:" in line]
    assert len(problem) == 1 and EXPECTED_FORM in problem[0], out
    if command[0] == "check":
        assert result.returncode == 1
        assert problem[0].startswith("FAIL configuration: ")
    else:
        assert result.returncode == 2
