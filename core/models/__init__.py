"""Every table, re-exported so Alembic and the services import one module."""

from core.models.base import (
    AttachmentStatus,
    Base,
    Channel,
    CommentSource,
    InboundStatus,
    JobRunStatus,
    JobTrigger,
    Locale,
    OutboundStatus,
    ParticipantRole,
    Role,
    TicketPriority,
    TicketStatus,
    Visibility,
)
from core.models.jobs import JobRun
from core.models.mail import InboundMessage, OutboundEmail
from core.models.notifications import Notification
from core.models.search import TicketSearchDocument
from core.models.sla import BusinessCalendar, CalendarHoliday, SlaNotice, SlaPolicy
from core.models.tickets import (
    Attachment,
    CannedResponse,
    Category,
    Comment,
    Ticket,
    TicketEvent,
    TicketParticipant,
    ticket_number_seq,
)
from core.models.users import MagicLinkToken, RateLimitCounter, Team, TeamMember, User

__all__ = [
    "Attachment",
    "AttachmentStatus",
    "Base",
    "BusinessCalendar",
    "CalendarHoliday",
    "CannedResponse",
    "Category",
    "Channel",
    "Comment",
    "CommentSource",
    "InboundMessage",
    "InboundStatus",
    "JobRun",
    "JobRunStatus",
    "JobTrigger",
    "Locale",
    "MagicLinkToken",
    "Notification",
    "OutboundEmail",
    "OutboundStatus",
    "ParticipantRole",
    "RateLimitCounter",
    "Role",
    "SlaNotice",
    "SlaPolicy",
    "Team",
    "TeamMember",
    "Ticket",
    "TicketEvent",
    "TicketParticipant",
    "TicketPriority",
    "TicketSearchDocument",
    "TicketStatus",
    "User",
    "Visibility",
    "ticket_number_seq",
]
