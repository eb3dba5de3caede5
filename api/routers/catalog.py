"""Teams (and members), categories and canned responses."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from api.deps import CurrentUser, SessionDep
from api.schemas import ERROR_RESPONSES, BodyId, Email, Id, Text
from core.catalog import service as catalog

teams_router = APIRouter(prefix="/api/v1/teams", tags=["teams"], responses=ERROR_RESPONSES)
categories_router = APIRouter(
    prefix="/api/v1/categories", tags=["categories"], responses=ERROR_RESPONSES
)
canned_router = APIRouter(
    prefix="/api/v1/canned-responses", tags=["canned"], responses=ERROR_RESPONSES
)

Name = Annotated[Text, Field(min_length=1, max_length=200)]


class TeamOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    email: str | None
    lead_id: int | None
    member_ids: list[int] = []


class TeamCreate(BaseModel):
    name: Name
    email: Email | None = None
    lead_id: BodyId | None = None


class TeamUpdate(BaseModel):
    name: Name | None = None
    email: Email | None = None
    lead_id: BodyId | None = None


class MembersIn(BaseModel):
    user_ids: Annotated[list[BodyId], Field(max_length=catalog.MAX_MEMBERS)]


class CategoryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    name_en: str | None
    default_team_id: int | None
    active: bool


class CategoryCreate(BaseModel):
    name: Name
    name_en: Annotated[Text, Field(max_length=200)] | None = None
    default_team_id: BodyId | None = None
    active: bool = True


class CategoryUpdate(BaseModel):
    name: Name | None = None
    name_en: Annotated[Text, Field(max_length=200)] | None = None
    default_team_id: BodyId | None = None
    active: bool | None = None


class CannedOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    title: str
    body: str
    locale: Literal["ko", "en"]
    team_id: int | None


class CannedCreate(BaseModel):
    title: Name
    body: Annotated[Text, Field(min_length=1, max_length=20_000)]
    locale: Literal["ko", "en"] = "ko"
    team_id: BodyId | None = None


class CannedUpdate(BaseModel):
    title: Name | None = None
    body: Annotated[Text, Field(min_length=1, max_length=20_000)] | None = None
    locale: Literal["ko", "en"] | None = None
    team_id: BodyId | None = None


def _set(body: BaseModel) -> dict:
    return {k: getattr(body, k) for k in body.model_fields_set}


def _team_out(team, member_ids: list[int]) -> TeamOut:
    out = TeamOut.model_validate(team)
    out.member_ids = member_ids
    return out


@teams_router.get("", response_model=list[TeamOut])
async def list_teams(user: CurrentUser, session: SessionDep) -> list[TeamOut]:
    """Every team with its members (agents and admins)."""
    teams, members = await catalog.list_teams(session, actor=user)
    return [_team_out(t, members.get(t.id, [])) for t in teams]


@teams_router.post("", status_code=201, response_model=TeamOut)
async def create_team(body: TeamCreate, user: CurrentUser, session: SessionDep) -> TeamOut:
    """Create a team, optionally with its own help address (admins)."""
    team = await catalog.create_team(
        session, actor=user, name=body.name, email=body.email, lead_id=body.lead_id
    )
    return _team_out(team, [])


@teams_router.patch("/{team_id}", response_model=TeamOut)
async def update_team(
    team_id: Id, body: TeamUpdate, user: CurrentUser, session: SessionDep
) -> TeamOut:
    """Rename a team, change its address or lead (admins)."""
    team = await catalog.update_team(session, actor=user, team_id=team_id, fields=_set(body))
    _, members = await catalog.list_teams(session, actor=user)
    return _team_out(team, members.get(team.id, []))


@teams_router.delete("/{team_id}", status_code=204)
async def delete_team(team_id: Id, user: CurrentUser, session: SessionDep) -> Response:
    """Delete a team; its tickets stay, without a team (admins)."""
    await catalog.delete_team(session, actor=user, team_id=team_id)
    return Response(status_code=204)


@teams_router.put("/{team_id}/members", response_model=TeamOut)
async def set_team_members(
    team_id: Id, body: MembersIn, user: CurrentUser, session: SessionDep
) -> TeamOut:
    """Replace the team's members with these agents (admins)."""
    ids = await catalog.set_members(session, actor=user, team_id=team_id, user_ids=body.user_ids)
    teams, _ = await catalog.list_teams(session, actor=user)
    team = next(t for t in teams if t.id == team_id)
    return _team_out(team, ids)


@categories_router.get("", response_model=list[CategoryOut])
async def list_categories(user: CurrentUser, session: SessionDep) -> list[CategoryOut]:
    """Categories (requesters see the active ones, to file a ticket)."""
    return [
        CategoryOut.model_validate(c) for c in await catalog.list_categories(session, actor=user)
    ]


@categories_router.post("", status_code=201, response_model=CategoryOut)
async def create_category(
    body: CategoryCreate, user: CurrentUser, session: SessionDep
) -> CategoryOut:
    """Create a category, optionally routed to a default team (admins)."""
    category = await catalog.create_category(
        session, actor=user, fields=_set(body) | {"name": body.name}
    )
    return CategoryOut.model_validate(category)


@categories_router.patch("/{category_id}", response_model=CategoryOut)
async def update_category(
    category_id: Id, body: CategoryUpdate, user: CurrentUser, session: SessionDep
) -> CategoryOut:
    """Rename, re-route or (de)activate a category (admins)."""
    category = await catalog.update_category(
        session, actor=user, category_id=category_id, fields=_set(body)
    )
    return CategoryOut.model_validate(category)


@canned_router.get("", response_model=list[CannedOut])
async def list_canned(user: CurrentUser, session: SessionDep) -> list[CannedOut]:
    """Canned responses: the shared ones and those of your teams (all, for admins)."""
    return [CannedOut.model_validate(c) for c in await catalog.list_canned(session, actor=user)]


@canned_router.post("", status_code=201, response_model=CannedOut)
async def create_canned(body: CannedCreate, user: CurrentUser, session: SessionDep) -> CannedOut:
    """Write a canned response, shared or for one team (admins)."""
    canned = await catalog.create_canned(session, actor=user, fields=body.model_dump())
    return CannedOut.model_validate(canned)


@canned_router.patch("/{canned_id}", response_model=CannedOut)
async def update_canned(
    canned_id: Id, body: CannedUpdate, user: CurrentUser, session: SessionDep
) -> CannedOut:
    """Edit a canned response (admins)."""
    canned = await catalog.update_canned(
        session, actor=user, canned_id=canned_id, fields=_set(body)
    )
    return CannedOut.model_validate(canned)


@canned_router.delete("/{canned_id}", status_code=204)
async def delete_canned(canned_id: Id, user: CurrentUser, session: SessionDep) -> Response:
    """Delete a canned response (admins)."""
    await catalog.delete_canned(session, actor=user, canned_id=canned_id)
    return Response(status_code=204)
