"""Fixtures of the checker tests: a client/server namespace pair and the listeners on it."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from .listeners import Listeners, Pair, listeners, make_pair


@pytest.fixture
def pair(netns_factory: Callable[[], str]) -> Pair:
    return make_pair(netns_factory)


@pytest.fixture
def servers() -> Iterator[Listeners]:
    with listeners() as made:
        yield made
