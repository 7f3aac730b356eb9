"""Walking ``next-token`` pages: one page at a time for a UI, or every item for a script.

Modelled on google-api-core's page iterator: the token stays visible between
pages so a dashboard can page by hand, and the iterator keeps the limit the
first page was asked with (the API fixes a token's limit anyway).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of items and the token for the next one (None on the last page)."""

    items: list[T]
    next_token: str | None


class PageIterator(Generic[T]):
    """Iterates items across pages; ``pages()`` yields whole pages instead.

    ``fetch(next_token)`` returns one page; it is called with None first.
    """

    def __init__(self, fetch: Callable[[str | None], Page[T]]) -> None:
        self._fetch = fetch
        self.next_token: str | None = None
        self.page_count = 0

    def pages(self) -> Iterator[Page[T]]:
        token: str | None = None
        while True:
            page = self._fetch(token)
            self.page_count += 1
            self.next_token = page.next_token or None
            yield page
            token = self.next_token
            if token is None:
                return

    def __iter__(self) -> Iterator[T]:
        for page in self.pages():
            yield from page.items
