"""Rules for the desk's configuration: admins change it; agents read what they work with
(teams, categories, canned responses); requesters see active categories (to file a ticket)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core.catalog import repository as repo
from core.errors import Conflict, Invalid, NotFound
from core.models import CannedResponse, Category, Locale, Role, Team, User
from core.tickets import access
from core.users import directory_repository as directory
from core.users.service import forget_team_addresses, normalise_email

MAX_MEMBERS = 500


def _name(value: object, what: str = "name") -> str:
    cleaned = " ".join(str(value or "").split())
    if not cleaned:
        raise Invalid(f"{what} cannot be empty")
    return cleaned[:200]


# --- teams -------------------------------------------------------------------------------------


async def list_teams(
    session: AsyncSession, *, actor: User
) -> tuple[list[Team], dict[int, list[int]]]:
    access.require_staff(actor, "list teams")
    teams = await repo.list_teams(session)
    return teams, await repo.member_ids(session, [t.id for t in teams])


async def _team(session: AsyncSession, team_id: int) -> Team:
    team = await repo.get_team(session, team_id)
    if team is None:
        raise NotFound("team not found")
    return team


async def _check_team_unique(
    session: AsyncSession, team: Team | None, name: str | None, email: str | None
) -> None:
    if name is not None:
        other = await repo.team_by_name(session, name)
        if other is not None and other is not team:
            raise Conflict("a team with this name exists")
    if email is not None:
        other = await repo.team_by_email(session, email)
        if other is not None and other is not team:
            raise Conflict("a team with this address exists")


async def _check_lead(session: AsyncSession, lead_id: int | None) -> None:
    if lead_id is None:
        return
    leads = await repo.users_by_ids(session, [lead_id])
    if not leads or leads[0].role not in (Role.agent, Role.admin):
        raise Invalid("the team lead must be an agent")


async def create_team(
    session: AsyncSession,
    *,
    actor: User,
    name: str,
    email: str | None = None,
    lead_id: int | None = None,
) -> Team:
    access.require_admin(actor, "create teams")
    name = _name(name)
    email = normalise_email(email) if email else None
    await _check_team_unique(session, None, name, email)
    await _check_lead(session, lead_id)
    team = Team(name=name, email=email, lead_id=lead_id)
    await repo.add(session, team)
    await session.refresh(team)
    forget_team_addresses(session)
    return team


async def update_team(
    session: AsyncSession, *, actor: User, team_id: int, fields: dict[str, Any]
) -> Team:
    access.require_admin(actor, "change teams")
    team = await _team(session, team_id)
    if "name" in fields:
        fields["name"] = _name(fields["name"])  # a team always has a name; null is refused
    if fields.get("email"):
        fields["email"] = normalise_email(fields["email"])
    await _check_team_unique(session, team, fields.get("name"), fields.get("email"))
    if "lead_id" in fields:
        await _check_lead(session, fields["lead_id"])
    for key in ("name", "email", "lead_id"):
        if key in fields:
            # email and lead may be cleared with null (or an empty address)
            setattr(team, key, fields[key] if key == "name" else (fields[key] or None))
    await session.flush()
    forget_team_addresses(session)
    return team


async def delete_team(session: AsyncSession, *, actor: User, team_id: int) -> None:
    """Tickets, categories and policies of the team keep existing (their team becomes none)."""
    access.require_admin(actor, "delete teams")
    await repo.remove(session, await _team(session, team_id))
    forget_team_addresses(session)


async def set_members(
    session: AsyncSession, *, actor: User, team_id: int, user_ids: list[int]
) -> list[int]:
    access.require_admin(actor, "change team members")
    await _team(session, team_id)
    ids = sorted(set(user_ids))
    if len(ids) > MAX_MEMBERS:
        raise Invalid("too many members")
    users = await repo.users_by_ids(session, ids)
    if len(users) != len(ids):
        raise Invalid("unknown user", detail="every member must be an existing user")
    if any(u.role not in (Role.agent, Role.admin) for u in users):
        raise Invalid("only agents and admins can be team members")
    await repo.replace_members(session, team_id=team_id, user_ids=ids)
    return ids


# --- categories --------------------------------------------------------------------------------


async def list_categories(session: AsyncSession, *, actor: User) -> list[Category]:
    return await repo.list_categories(session, active_only=not access.is_staff(actor))


async def _check_category(
    session: AsyncSession, category: Category | None, fields: dict[str, Any]
) -> None:
    if "name" in fields:
        fields["name"] = _name(fields["name"])
        other = await repo.category_by_name(session, fields["name"])
        if other is not None and other is not category:
            raise Conflict("a category with this name exists")
    if fields.get("default_team_id") is not None:
        await _team(session, fields["default_team_id"])


async def create_category(
    session: AsyncSession, *, actor: User, fields: dict[str, Any]
) -> Category:
    access.require_admin(actor, "create categories")
    await _check_category(session, None, fields)
    category = Category(
        name=fields["name"],
        name_en=fields.get("name_en"),
        default_team_id=fields.get("default_team_id"),
        active=fields.get("active", True),
    )
    await repo.add(session, category)
    await session.refresh(category)
    return category


async def update_category(
    session: AsyncSession, *, actor: User, category_id: int, fields: dict[str, Any]
) -> Category:
    access.require_admin(actor, "change categories")
    category = await repo.get_category(session, category_id)
    if category is None:
        raise NotFound("category not found")
    await _check_category(session, category, fields)
    if "active" in fields and fields["active"] is None:
        raise Invalid("active cannot be null")
    for key, value in fields.items():
        setattr(category, key, value)
    await session.flush()
    return category


# --- canned responses ----------------------------------------------------------------------------


async def list_canned(session: AsyncSession, *, actor: User) -> list[CannedResponse]:
    access.require_staff(actor, "use canned responses")
    if access.is_admin(actor):
        return await repo.list_canned(session, team_ids=None)
    return await repo.list_canned(session, team_ids=await directory.team_ids(session, actor.id))


async def _canned(session: AsyncSession, canned_id: int) -> CannedResponse:
    canned = await repo.get_canned(session, canned_id)
    if canned is None:
        raise NotFound("canned response not found")
    return canned


async def create_canned(
    session: AsyncSession, *, actor: User, fields: dict[str, Any]
) -> CannedResponse:
    access.require_admin(actor, "create canned responses")
    if fields.get("team_id") is not None:
        await _team(session, fields["team_id"])
    canned = CannedResponse(
        title=_name(fields["title"], "title"),
        body=fields["body"],
        locale=Locale(fields.get("locale") or Locale.ko).value,
        team_id=fields.get("team_id"),
        created_by_id=actor.id,
    )
    await repo.add(session, canned)
    await session.refresh(canned)
    return canned


async def update_canned(
    session: AsyncSession, *, actor: User, canned_id: int, fields: dict[str, Any]
) -> CannedResponse:
    access.require_admin(actor, "change canned responses")
    canned = await _canned(session, canned_id)
    if fields.get("team_id") is not None:
        await _team(session, fields["team_id"])
    for key, value in fields.items():
        if key == "title":
            value = _name(value, "title")
        elif key in ("body", "locale") and value is None:
            raise Invalid(f"{key} cannot be null")
        elif key == "locale":
            value = Locale(value).value
        setattr(canned, key, value)
    await session.flush()
    await session.refresh(canned)
    return canned


async def delete_canned(session: AsyncSession, *, actor: User, canned_id: int) -> None:
    access.require_admin(actor, "delete canned responses")
    await repo.remove(session, await _canned(session, canned_id))
