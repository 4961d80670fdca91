"""Dispatcher tokens (no services needed)."""

from __future__ import annotations

import pytest
from fastapi import HTTPException

from services.api.routes.views import accepted_tokens, check_token
from services.config import Settings


def test_tokens_are_a_comma_separated_list() -> None:
    s = Settings(environment="development", dispatcher_tokens=" a1 , b2,,dev-dispatcher-token ")
    assert accepted_tokens(s) == ["a1", "b2", "dev-dispatcher-token"]
    check_token(s, "b2")
    for bad in (None, "", "b", "b2 ", "A1"):
        with pytest.raises(HTTPException) as e:
            check_token(s, bad)
        assert e.value.status_code == 401 and e.value.headers == {"WWW-Authenticate": 'Bearer realm="coalchain-views"'}


def test_the_placeholder_token_is_refused_outside_development() -> None:
    s = Settings(environment="production", dispatcher_tokens="dev-dispatcher-token,s3cret")
    assert accepted_tokens(s) == ["s3cret"]
    with pytest.raises(HTTPException):
        check_token(s, "dev-dispatcher-token")
    check_token(s, "s3cret")
