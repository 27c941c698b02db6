from tests.rooms.conftest import group  # noqa: F401 - the chat tests' room, owner and member
