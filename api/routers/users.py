"""The user directory: agents look people up; admins create, change role, deactivate."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from api.deps import CurrentUser, SessionDep
from api.schemas import ERROR_RESPONSES, Email, Id, Text, UserOut
from api.serialize import user_out
from core.users import account

router = APIRouter(prefix="/api/v1/users", tags=["users"], responses=ERROR_RESPONSES)

RoleName = Literal["requester", "agent", "admin"]
Name = Annotated[Text, Field(min_length=1, max_length=200)]
Optional200 = Annotated[Text, Field(max_length=200)] | None


class UserCreate(BaseModel):
    email: Email
    name: Annotated[Text, Field(max_length=200)] = ""
    role: RoleName = "requester"
    password: Annotated[Text, Field(min_length=8, max_length=1024)] | None = None
    locale: Literal["ko", "en"] = "ko"
    department: Optional200 = None
    phone: Annotated[Text, Field(max_length=64)] | None = None


class UserUpdate(BaseModel):
    name: Name | None = None
    role: RoleName | None = None
    active: bool | None = None
    locale: Literal["ko", "en"] | None = None
    department: Optional200 = None
    phone: Annotated[Text, Field(max_length=64)] | None = None
    password: Annotated[Text, Field(min_length=8, max_length=1024)] | None = None


class UserPage(BaseModel):
    items: list[UserOut]
    next_cursor: str | None


@router.get("", response_model=UserPage)
async def list_users(
    user: CurrentUser,
    session: SessionDep,
    q: Annotated[str | None, Query(max_length=200)] = None,
    role: RoleName | None = None,
    active: bool | None = None,
    cursor: Annotated[str | None, Query(pattern=r"^[0-9]{1,18}$")] = None,
    limit: Annotated[int, Query(ge=1, le=account.MAX_PAGE)] = 50,
) -> UserPage:
    """Search users by email, name or department (agents and admins)."""
    users, teams = await account.list_users(
        session,
        actor=user,
        q=q.replace("\x00", "") if q else None,
        role=role,
        active=active,
        after_id=int(cursor) if cursor else 0,
        limit=limit,
    )
    next_cursor = str(users[-1].id) if len(users) == limit else None
    return UserPage(items=[user_out(u, teams.get(u.id)) for u in users], next_cursor=next_cursor)


@router.post("", status_code=201, response_model=UserOut)
async def create_user(body: UserCreate, user: CurrentUser, session: SessionDep) -> UserOut:
    """Create a user (admins). Requesters synced from MIS need no password (magic link)."""
    created = await account.create_user(
        session,
        actor=user,
        email=body.email,
        name=body.name,
        role=body.role,
        password=body.password,
        locale=body.locale,
        department=body.department,
        phone=body.phone,
    )
    return user_out(created, [])


@router.get("/{user_id}", response_model=UserOut)
async def get_user(user_id: Id, user: CurrentUser, session: SessionDep) -> UserOut:
    """One user (agents and admins; anyone may read themselves)."""
    found = await account.get_user(session, actor=user, user_id=user_id)
    return user_out(found, await account.team_ids(session, found))


@router.patch("/{user_id}", response_model=UserOut)
async def update_user(
    user_id: Id, body: UserUpdate, user: CurrentUser, session: SessionDep
) -> UserOut:
    """Change a user's role, name, language, department, phone, password, or deactivate (admins)."""
    fields = {k: getattr(body, k) for k in body.model_fields_set}
    changed = await account.update_user(session, actor=user, user_id=user_id, fields=fields)
    return user_out(changed, await account.team_ids(session, changed))
