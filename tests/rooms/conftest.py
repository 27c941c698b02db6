import pytest

from rooms import selectors
from rooms.models import Room


@pytest.fixture
def public_room(db) -> Room:
    return selectors.public_room()


@pytest.fixture
def squad(group, make_user):
    """The group and a user outside it: (room, owner, member, outsider)."""
    return (*group, make_user("outsider"))
