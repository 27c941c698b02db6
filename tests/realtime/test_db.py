"""realtime.db: the sockets' way into sync code."""

from __future__ import annotations

import contextvars

import pytest
from channels.db import database_sync_to_async
from django.contrib.auth.models import User

from realtime.db import db_sync_to_async

MARK: contextvars.ContextVar[str] = contextvars.ContextVar("test_mark")


def _count_users_and_mark() -> int:
    MARK.set("set in the thread")
    return User.objects.count()


@pytest.mark.django_db(transaction=True)
async def test_what_the_sync_side_sets_stays_there_and_its_result_comes_back(make_user):
    await db_sync_to_async(make_user)()
    assert await db_sync_to_async(_count_users_and_mark)() == 1
    # Channels' own wrapper copies it back into the awaiting task (each socket's
    # task would keep a copy of every variable so set).
    assert MARK.get(None) is None
    assert await database_sync_to_async(_count_users_and_mark)() == 1
    assert MARK.get(None) == "set in the thread"


@pytest.mark.django_db(transaction=True)
async def test_exceptions_reach_the_awaiting_socket():
    def fail() -> None:
        raise LookupError("no such room")

    with pytest.raises(LookupError, match="no such room"):
        await db_sync_to_async(fail)()
