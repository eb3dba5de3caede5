"""Sign-in: password login, magic links, the current user."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from api.deps import SESSION_COOKIE, CurrentUser, SessionDep
from api.errors import error_response
from api.schemas import ERROR_RESPONSES, Email, Text, TokenOut, UserOut
from api.serialize import user_out
from core.auth import service as auth
from core.config import get_settings
from core.models import User
from core.users import account

router = APIRouter(prefix="/api/v1/auth", tags=["auth"], responses=ERROR_RESPONSES)

INVALID_LOGIN = "invalid email or password"


class LoginIn(BaseModel):
    email: Email
    password: Annotated[Text, Field(max_length=1024)]


class MagicLinkIn(BaseModel):
    email: Email


class MagicVerifyIn(BaseModel):
    token: Annotated[Text, Field(min_length=1, max_length=200)]


class MeUpdate(BaseModel):
    locale: Literal["ko", "en"] | None = None
    name: Annotated[Text, Field(min_length=1, max_length=200)] | None = None


class Accepted(BaseModel):
    detail: str


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


def _set_session_cookie(response: Response, token: str) -> None:
    settings = get_settings()
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=settings.jwt_expires_min * 60,
        httponly=True,
        samesite="lax",
        secure=settings.app_base_url.startswith("https://"),
        path="/",
    )


async def _token_response(session: SessionDep, user: User, response: Response) -> TokenOut:
    token = auth.access_token_for(user)
    _set_session_cookie(response, token)
    return TokenOut(access_token=token, user=user_out(user, await account.team_ids(session, user)))


@router.post("/login", response_model=TokenOut)
async def login(
    body: LoginIn, request: Request, response: Response, session: SessionDep
) -> TokenOut | JSONResponse:
    """Sign in with email and password; returns a bearer token and sets the session cookie."""
    user = await auth.login(
        session, email=body.email, password=body.password, ip=client_ip(request)
    )
    if user is None:
        # Returned, not raised: the failure counters must commit with this request.
        return error_response(401, "unauthorized", INVALID_LOGIN)
    return await _token_response(session, user, response)


@router.post("/logout", status_code=204)
async def logout(response: Response) -> Response:
    """Sign out: clears the session cookie."""
    response.status_code = 204
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.post("/magic-link", status_code=202, response_model=Accepted)
async def request_magic_link(body: MagicLinkIn, request: Request, session: SessionDep) -> Accepted:
    """Mail a one-time sign-in link; the answer is the same whether the address exists or not."""
    await auth.request_magic_link(session, email=body.email, ip=client_ip(request))
    return Accepted(detail="if the address belongs to an account, a sign-in link is on its way")


@router.post("/magic-link/verify", response_model=TokenOut)
async def verify_magic_link(
    body: MagicVerifyIn, request: Request, response: Response, session: SessionDep
) -> TokenOut | JSONResponse:
    """Exchange a magic-link token (single use, 15 minutes) for a session."""
    user = await auth.verify_magic_link(session, token=body.token, ip=client_ip(request))
    if user is None:
        return error_response(401, "unauthorized", "this sign-in link is invalid or was used")
    return await _token_response(session, user, response)


@router.get("/me", response_model=UserOut)
async def me(user: CurrentUser, session: SessionDep) -> UserOut:
    """The signed-in user."""
    return user_out(user, await account.team_ids(session, user))


@router.patch("/me", response_model=UserOut)
async def update_me(body: MeUpdate, user: CurrentUser, session: SessionDep) -> UserOut:
    """Change your display name or UI language (remembered per user)."""
    await account.update_profile(session, user=user, locale=body.locale, name=body.name)
    return user_out(user, await account.team_ids(session, user))
