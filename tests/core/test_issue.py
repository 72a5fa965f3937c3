"""Issue URLs and issue snapshots."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.core.issue import (
    OWNER_PATTERN,
    REPO_PATTERN,
    IssueRef,
    IssueState,
    issue_url_key,
    parse_issue_url,
)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "https://github.com/example-org/infrastructure/issues/1",
            ("example-org", "infrastructure", 1),
        ),
        ("HTTPS://GitHub.com/Example-Org/Infra/issues/22/", ("Example-Org", "Infra", 22)),
        ("  https://github.com/o/r/issues/3  ", ("o", "r", 3)),
        ("https://github.com/o/r/pull/4", ("o", "r", 4)),
        ("https://github.com/o/r/issues/x", None),
        ("https://example.org/o/r/issues/1", None),
        ("", None),
    ],
)
def test_parse_issue_url(url: str, expected: tuple[str, str, int] | None) -> None:
    ref = parse_issue_url(url)
    assert (None if ref is None else (ref.owner, ref.repo, ref.number)) == expected


def test_keys_are_case_insensitive() -> None:
    a = issue_url_key("https://github.com/Example-Org/Infrastructure/issues/7")
    b = issue_url_key("https://github.com/example-org/infrastructure/issues/7")
    assert a == b == "example-org/infrastructure#7"
    assert issue_url_key("not a url ") == "not a url"


@given(
    st.from_regex(f"^{OWNER_PATTERN}$", fullmatch=True),
    st.from_regex(f"^{REPO_PATTERN}$", fullmatch=True),
    st.integers(1, 10**9),
)
def test_url_round_trip(owner: str, repo: str, number: int) -> None:
    ref = IssueRef(owner, repo, number)
    assert parse_issue_url(ref.url) == ref


@given(st.text(min_size=1, max_size=30), st.text(min_size=1, max_size=30))
def test_a_ref_is_only_ever_made_of_names_github_allows(owner: str, repo: str) -> None:
    try:
        ref = IssueRef(owner, repo, 1)
    except ValueError:
        return
    assert "/" not in ref.owner + ref.repo and ref.repo not in (".", "..")
    assert parse_issue_url(ref.url) == ref


def test_from_api_reads_the_fields_that_matter() -> None:
    state = IssueState.from_api(
        {
            "html_url": "https://github.com/o/r/issues/5",
            "title": "T",
            "state": "closed",
            "state_reason": "completed",
            "closed_at": "2026-01-01T00:00:00Z",
            "assignees": [{"login": "zed"}, {"login": "amy"}],
            "labels": [{"name": "blocked"}, "plain"],
        }
    )
    assert state.ref == IssueRef("o", "r", 5)
    assert state.assignees == ("amy", "zed")
    assert state.labels == ("blocked", "plain")
    with pytest.raises(ValueError, match="no GitHub issue URL"):
        IssueState.from_api({"title": "no url"})
