"""The stand-in's manifest flow as GitHub documents it: the new-App pages take a posted
manifest, the "Create GitHub App" button sends the browser back with a one-time code, and
``POST /app-manifests/{code}/conversions`` turns that code into the App, once."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.standins.github import GitHubStandIn
from tests.standins.github.routes.manifests import created_apps, mint_code

MANIFEST: dict[str, Any] = {
    "name": "deliverables-bot",
    "url": "https://bot.example.net",
    "hook_attributes": {"url": "https://bot.example.net/webhook", "active": True},
    "redirect_url": "http://127.0.0.1:9/setup/done",
    "public": False,
    "default_permissions": {"issues": "write", "metadata": "read"},
    "default_events": ["issues", "issue_comment", "sub_issues"],
}
TIMEOUT = 10


def post_manifest(
    gh: GitHubStandIn, manifest: Any, *, state: str = "s-123", org: str | None = None
) -> requests.Response:
    """What the browser does with the setup page's form."""
    page = f"/organizations/{org}/settings/apps/new" if org else "/settings/apps/new"
    field = manifest if isinstance(manifest, str) else json.dumps(manifest)
    return requests.post(
        f"{gh.url}{page}", params={"state": state}, data={"manifest": field}, timeout=TIMEOUT
    )


def click_create(gh: GitHubStandIn, page: requests.Response) -> requests.Response:
    """Press the page's "Create GitHub App" button (without following the redirect)."""
    assert "Create GitHub App" in page.text
    match = re.search(r'name="draft" value="([^"]+)"', page.text)
    assert match, page.text
    return requests.post(
        f"{gh.url}/settings/apps/new/create",
        data={"draft": match[1]},
        allow_redirects=False,
        timeout=TIMEOUT,
    )


def convert(gh: GitHubStandIn, code: str) -> requests.Response:
    """``POST /app-manifests/{code}/conversions``, without credentials."""
    return requests.post(f"{gh.url}/app-manifests/{code}/conversions", timeout=TIMEOUT)


def test_the_whole_flow_creates_an_app_with_its_secrets_once(github: GitHubStandIn) -> None:
    page = post_manifest(github, MANIFEST)
    assert page.status_code == 200
    assert "https://bot.example.net/webhook" in page.text

    redirect = click_create(github, page)
    assert redirect.status_code == 302
    location = urlsplit(redirect.headers["Location"])
    assert location._replace(query="").geturl() == MANIFEST["redirect_url"]
    query = parse_qs(location.query)
    assert query["state"] == ["s-123"]
    [code] = query["code"]

    answer = convert(github, code)
    assert answer.status_code == 201, answer.text
    app = answer.json()
    for key in ("id", "slug", "node_id", "owner", "name", "html_url", "client_id"):
        assert app[key], key
    assert app["name"] == "deliverables-bot"
    assert app["owner"]["type"] == "User"
    assert app["permissions"] == MANIFEST["default_permissions"]
    assert app["events"] == MANIFEST["default_events"]
    assert app["html_url"] == f"{github.url}/apps/{app['slug']}"
    assert len(app["webhook_secret"]) >= 20 and len(app["client_secret"]) >= 20
    private_key = serialization.load_pem_private_key(app["pem"].encode(), password=None)
    assert isinstance(private_key, rsa.RSAPrivateKey) and private_key.key_size == 2048
    assert app["pem"].startswith("-----BEGIN RSA PRIVATE KEY-----\n")
    assert created_apps(github) == [app]

    again = convert(github, code)
    assert again.status_code == 404
    assert again.json()["message"] == "Not Found"
    install = requests.get(f"{app['html_url']}/installations/new", timeout=TIMEOUT)
    assert install.status_code == 200


def test_an_organization_s_page_makes_the_organization_the_owner(github: GitHubStandIn) -> None:
    page = post_manifest(github, MANIFEST, org="2i2c-org")
    code = parse_qs(urlsplit(click_create(github, page).headers["Location"]).query)["code"][0]

    app = convert(github, code).json()

    assert app["owner"]["login"] == "2i2c-org"
    assert app["owner"]["type"] == "Organization"


def test_ids_count_up_and_a_minted_code_converts(github: GitHubStandIn) -> None:
    first = convert(github, mint_code(github, MANIFEST)).json()
    second = convert(github, mint_code(github, MANIFEST)).json()
    assert second["id"] == first["id"] + 1
    assert first["pem"] != second["pem"]


@pytest.mark.parametrize(
    ("manifest", "problem"),
    [
        pytest.param("{not json", "not JSON", id="not-json"),
        pytest.param([1, 2], "not a JSON object", id="not-an-object"),
        pytest.param(
            {**MANIFEST, "hook_attributes": {"active": True}},
            "hook_attributes.url",
            id="no-webhook-url",
        ),
        pytest.param(
            {k: v for k, v in MANIFEST.items() if k != "redirect_url"},
            "redirect_url",
            id="no-redirect-url",
        ),
        pytest.param(
            {k: v for k, v in MANIFEST.items() if k != "default_permissions"},
            "default_permissions",
            id="no-permissions",
        ),
    ],
)
def test_a_manifest_github_would_refuse_is_a_422_page(
    github: GitHubStandIn, manifest: Any, problem: str
) -> None:
    page = post_manifest(github, manifest)

    assert page.status_code == 422
    assert problem in page.text
    assert "Create GitHub App" not in page.text


def test_an_unknown_code_is_not_found(github: GitHubStandIn) -> None:
    answer = convert(github, "0123456789abcdef")

    assert answer.status_code == 404
    assert answer.json()["message"] == "Not Found"
    assert created_apps(github) == []
