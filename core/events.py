"""Domain events, published inside the transaction that causes them.

Handlers (notifications and the outbox, SLA clocks) run in the same session and only flush, so the
mail a change causes is committed with the change or not at all (the transactional outbox).
Handler modules are listed in `HANDLER_MODULES` and imported on first publish, which keeps the
import graph pointing down: tickets do not import notifications.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

if TYPE_CHECKING:
    from core.models import Ticket

# Each module registers its handlers with @subscribe at import time.
HANDLER_MODULES: list[str] = [
    "core.tickets.search",
    "core.sla.handlers",
    "core.notifications.handlers",
]


@dataclass(frozen=True)
class TicketOpening:
    """A new ticket about to be inserted: handlers may fill in its fields (the SLA clock's
    targets), so one INSERT writes them instead of an INSERT and an UPDATE. It has no id yet;
    anything that needs one subscribes to TicketCreated."""

    ticket: Ticket


@dataclass(frozen=True)
class TicketCreated:
    ticket_id: int
    comment_id: int
    actor_id: int | None
    # Auto-replies, bounces and floods thread or open tickets but never get an acknowledgement.
    suppress_acknowledgement: bool = False


@dataclass(frozen=True)
class CommentAdded:
    ticket_id: int
    comment_id: int
    author_id: int | None
    visibility: str
    source: str
    is_auto_reply: bool = False


@dataclass(frozen=True)
class TicketAssigned:
    ticket_id: int
    assignee_id: int | None
    previous_assignee_id: int | None
    actor_id: int | None


@dataclass(frozen=True)
class TicketStatusChanged:
    ticket_id: int
    old_status: str
    new_status: str
    actor_id: int | None


@dataclass(frozen=True)
class TicketFieldsChanged:
    """Priority, team or category changed: SLA targets may move."""

    ticket_id: int
    changes: dict[str, Any]
    actor_id: int | None


Event = (
    TicketOpening
    | TicketCreated
    | CommentAdded
    | TicketAssigned
    | TicketStatusChanged
    | TicketFieldsChanged
)
Handler = Callable[[AsyncSession, Any], Awaitable[None]]

_handlers: dict[type, list[Handler]] = {}
_loaded = False


def subscribe(*event_types: type) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        for event_type in event_types:
            _handlers.setdefault(event_type, []).append(handler)
        return handler

    return register


def _load_handlers() -> None:
    global _loaded
    if not _loaded:
        for module in HANDLER_MODULES:
            importlib.import_module(module)
        _loaded = True


async def publish(session: AsyncSession, event: Event) -> None:
    _load_handlers()
    for handler in _handlers.get(type(event), []):
        await handler(session, event)
