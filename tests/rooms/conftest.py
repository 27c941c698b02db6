import pytest

from rooms import selectors, services
from rooms.models import Room


@pytest.fixture
def public_room(db) -> Room:
    return selectors.public_room()


@pytest.fixture
def group(make_user):
    """A group owned by `owner` with one other member; returns (room, owner, member)."""
    owner, member = make_user("owner"), make_user("member")
    room = services.room_create_group(creator=owner, name="squad", title="The Squad")
    room.members.add(member)
    return room, owner, member
