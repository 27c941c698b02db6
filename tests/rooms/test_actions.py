"""Edit, delete, react and reply through the services, and the per-room change
sequence they share with posts."""

from __future__ import annotations

import re
import threading
from datetime import timedelta
from io import BytesIO

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, transaction
from django.utils import timezone
from PIL import Image

from rooms import broadcasts, selectors, services
from rooms.models import Message, MessageVersion, Reaction, Room, RoomChange
from uploads import validation

pytestmark = pytest.mark.django_db


def changes(room) -> list[tuple[int, str, int]]:
    return list(RoomChange.objects.filter(room=room).order_by("seq").values_list("seq", "kind", "message_id"))


def position(room) -> int:
    return Room.objects.get(pk=room.pk).last_seq


def test_every_change_takes_the_next_position(group):
    room, owner, member = group
    first = services.message_post(room=room, author=owner, body="first")
    second = services.message_post(room=room, author=member, body="second", reply_to_id=first.pk)
    services.message_edit(message=first, by=owner, body="first, edited")
    services.reaction_set(message=second, user=owner, emoji="👍", on=True)
    services.reaction_set(message=second, user=owner, emoji="👍", on=False)
    services.message_delete(message=second, by=member)
    assert changes(room) == [
        (1, "posted", first.pk),
        (2, "posted", second.pk),
        (3, "edited", first.pk),
        (4, "reacted", second.pk),
        (5, "unreacted", second.pk),
        (6, "deleted", second.pk),
    ]
    assert position(room) == 6


def test_repeating_an_action_changes_nothing(group):
    """A retried edit, reaction or delete is applied once: no second row, no
    second position, no second push."""
    room, owner, member = group
    message = services.message_post(room=room, author=owner, body="hi")
    services.message_edit(message=message, by=owner, body="hello")
    services.message_edit(message=message, by=owner, body="  hello ")
    assert services.reaction_set(message=message, user=member, emoji="🎉", on=True)
    assert not services.reaction_set(message=message, user=member, emoji="🎉", on=True)
    assert not services.reaction_set(message=message, user=owner, emoji="🎉", on=False)
    services.message_delete(message=message, by=owner)
    services.message_delete(message=message, by=owner)
    assert [kind for _, kind, _ in changes(room)] == ["posted", "edited", "reacted", "deleted"]
    assert MessageVersion.objects.count() == 0  # deleting took the versions with it


def test_edit_keeps_the_earlier_body_and_finds_mentions_again(group):
    room, owner, member = group
    message = services.message_post(room=room, author=owner, body="hello **all**")
    assert list(message.mentions.all()) == []
    services.message_edit(message=message, by=owner, body=f"hello @{member.username}")
    message.refresh_from_db()
    assert message.body == f"hello @{member.username}"
    assert 'class="mention"' in message.body_html and message.edited_at is not None
    assert list(message.mentions.all()) == [member]
    earlier = [("hello **all**", "<p>hello <strong>all</strong></p>")]
    assert list(message.versions.values_list("body", "body_html")) == earlier
    # Edited away again, the mention stops counting.
    services.message_edit(message=message, by=owner, body="hello again")
    assert list(Message.objects.get(pk=message.pk).mentions.all()) == []


def test_only_the_author_edits_within_the_window_and_staff_any_time(group, make_user, settings):
    settings.CHAT_EDIT_WINDOW_SECONDS = 60
    room, owner, member = group
    manager = make_user(role="manager")
    room.members.add(manager)
    message = services.message_post(room=room, author=owner, body="typo")
    with pytest.raises(services.RoomPermissionDenied, match=services.NOT_YOUR_MESSAGE):
        services.message_edit(message=message, by=member, body="hijacked")
    with pytest.raises(services.RoomPermissionDenied):
        services.message_edit(message=message, by=manager, body="staff edit someone else's")
    services.message_edit(message=message, by=owner, body="fixed")

    Message.objects.filter(pk=message.pk).update(created=timezone.now() - timedelta(seconds=61))
    with pytest.raises(services.ChatError, match="only be edited for 1 minutes"):
        services.message_edit(message=message, by=owner, body="too late")
    assert Message.objects.get(pk=message.pk).body == "fixed"

    old = services.message_post(room=room, author=manager, body="staff note")
    Message.objects.filter(pk=old.pk).update(created=timezone.now() - timedelta(days=30))
    services.message_edit(message=old, by=manager, body="staff note, a month later")
    assert Message.objects.get(pk=old.pk).body == "staff note, a month later"


@pytest.mark.parametrize(("body", "error"), [("   ", services.MESSAGE_EMPTY), ("x" * 2001, "at most 2000")])
def test_bad_edits_change_nothing(group, body, error):
    room, owner, _ = group
    message = services.message_post(room=room, author=owner, body="kept")
    with pytest.raises(services.ChatError, match=error):
        services.message_edit(message=message, by=owner, body=body)
    assert Message.objects.get(pk=message.pk).body == "kept" and position(room) == 1


def test_a_removed_member_can_change_nothing(group):
    room, owner, member = group
    message = services.message_post(room=room, author=member, body="mine")
    room.members.remove(member)
    for action in (
        lambda: services.message_edit(message=message, by=member, body="still mine?"),
        lambda: services.message_delete(message=message, by=member),
        lambda: services.reaction_set(message=message, user=member, emoji="👍", on=True),
    ):
        with pytest.raises(selectors.RoomAccessDenied):
            action()
    assert position(room) == 1


def test_delete_leaves_a_tombstone_and_staff_may_delete_any(group, make_user):
    room, owner, member = group
    admin = make_user(role="admin")
    room.members.add(admin)
    mine = services.message_post(room=room, author=member, body=f"ping @{owner.username}")
    services.message_edit(message=mine, by=member, body=f"ping @{owner.username}!")
    services.reaction_set(message=mine, user=owner, emoji="👍", on=True)
    with pytest.raises(services.RoomPermissionDenied):
        services.message_delete(message=mine, by=owner)

    services.message_delete(message=mine, by=member)
    stone = Message.objects.get(pk=mine.pk)
    assert stone.is_deleted and stone.body == stone.body_html == ""
    assert not stone.mentions.exists() and not stone.versions.exists() and not stone.reactions.exists()
    assert not Message.objects.filter(deleted_at__isnull=True, pk=mine.pk).exists()
    with pytest.raises(services.ChatError, match=services.MESSAGE_IS_DELETED):
        services.message_edit(message=mine, by=member, body="back from the dead")
    with pytest.raises(services.ChatError, match=services.MESSAGE_IS_DELETED):
        services.reaction_set(message=mine, user=owner, emoji="👍", on=True)

    theirs = services.message_post(room=room, author=owner, body="moderate me")
    services.message_delete(message=theirs, by=admin)
    assert Message.objects.get(pk=theirs.pk).is_deleted


def png_upload() -> validation.ValidatedFile:
    out = BytesIO()
    Image.new("RGB", (40, 30), (30, 120, 200)).save(out, format="PNG")
    return validation.validate_upload(SimpleUploadedFile("shot.png", out.getvalue()))


def test_delete_removes_the_files_only_after_commit(group, settings, tmp_path, django_capture_on_commit_callbacks):
    settings.MEDIA_ROOT = tmp_path
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"}}
    room, owner, _ = group
    message = services.message_post(room=room, author=owner, body="look", attachment=png_upload())
    names = [message.attachment.name, message.attachment_thumbnail.name]
    assert all(default_storage.exists(name) for name in names)

    # Rolled back: the message keeps its file.
    with pytest.raises(RuntimeError), transaction.atomic():
        services.message_delete(message=message, by=owner)
        raise RuntimeError("abort")
    assert all(default_storage.exists(name) for name in names)
    assert not Message.objects.get(pk=message.pk).is_deleted

    with django_capture_on_commit_callbacks() as callbacks:
        services.message_delete(message=message, by=owner)
        assert all(default_storage.exists(name) for name in names)
    for callback in callbacks:
        callback()
    assert not any(default_storage.exists(name) for name in names)
    assert Message.objects.get(pk=message.pk).attachment == ""


def test_reactions_come_from_the_configured_set(group, settings):
    room, owner, member = group
    settings.CHAT_REACTIONS = ["👍", "🚀"]
    message = services.message_post(room=room, author=owner, body="ship it")
    services.reaction_set(message=message, user=member, emoji="🚀", on=True)
    with pytest.raises(services.ChatError, match=services.REACTION_UNKNOWN):
        services.reaction_set(message=message, user=member, emoji="<b>", on=True)
    assert list(Reaction.objects.values_list("emoji", flat=True)) == ["🚀"]


def test_a_reply_must_quote_a_message_of_the_same_room(group, public_room):
    room, owner, member = group
    elsewhere = services.message_post(room=public_room, author=owner, body="public")
    with pytest.raises(services.ChatError, match=services.REPLY_INVALID):
        services.message_post(room=room, author=member, body="re", reply_to_id=elsewhere.pk)
    original = services.message_post(room=room, author=owner, body="original words")
    reply = services.message_post(room=room, author=member, body="agreed", reply_to_id=original.pk)
    services.message_delete(message=original, by=owner)
    html = broadcasts.render_message(selectors.messages_by_id(ids=[reply.pk])[reply.pk])
    assert f'data-reply-to="{original.pk}"' in html and "message deleted" in html
    assert "original words" not in html


def test_replay_shows_each_touched_message_once_as_it_is_now(group):
    room, owner, member = group
    old = services.message_post(room=room, author=owner, body="old")
    after = position(room)
    new = services.message_post(room=room, author=member, body="new")
    services.message_edit(message=old, by=owner, body="old, edited")
    services.message_edit(message=new, by=member, body="new, edited")
    services.reaction_set(message=old, user=member, emoji="😂", on=True)

    replay = broadcasts.replay(room=room, after=after)
    assert replay.seq == position(room) == 5 and not replay.overflow
    html = replay.html
    assert html.count(f'id="message-{old.pk}"') == 1 and html.count(f'id="message-{new.pk}"') == 1
    # New messages are appended; ones the page has are replaced in place.
    appended = html[html.index('hx-swap-oob="beforeend:#messages"') :]
    assert appended.index(f'id="message-{new.pk}"') < appended.index(f'id="message-{old.pk}"')
    assert "new, edited" in html and "old, edited" in html and "😂" in html
    assert 'id="chat-seq" hx-swap-oob="true" data-seq="5"' in html
    assert broadcasts.replay(room=room, after=5).html == ""


def test_replay_past_the_limit_asks_for_a_reload(group, settings):
    settings.CHAT_RESUME_LIMIT = 3
    room, owner, _ = group
    for n in range(4):
        services.message_post(room=room, author=owner, body=f"m{n}")
    replay = broadcasts.replay(room=room, after=0)
    assert replay.overflow and replay.seq == 4 and 'id="reload-notice"' in replay.html
    assert not broadcasts.replay(room=room, after=1).overflow


@pytest.mark.django_db(transaction=True)
def test_concurrent_changes_commit_in_sequence_order_without_gaps(make_user):
    """Four writers post, edit and react at once while a reader keeps asking for
    the changes after the last position it saw: it must only ever see the next
    positions, never one with an earlier one still missing (commit order is
    sequence order), and in the end every position 1..N exists once."""
    if connection.vendor != "postgresql":
        pytest.skip("SQLite has one writer at a time anyway; the race needs PostgreSQL")
    writers = [make_user(f"writer{n}") for n in range(4)]
    room = services.room_create_group(creator=writers[0], name="busy-room")
    room.members.add(*writers)
    stop = threading.Event()
    seen: list[int] = []
    errors: list[BaseException] = []

    def write(user):
        try:
            for n in range(15):
                message = services.message_post(room=room, author=user, body=f"{user.username} {n}")
                services.message_edit(message=message, by=user, body=f"{user.username} {n} edited")
                services.reaction_set(message=message, user=user, emoji="👍", on=True)
        except BaseException as error:  # surfaced below
            errors.append(error)
        finally:
            connection.close()

    def read():
        try:
            while not stop.is_set() or len(seen) < 180:
                batch = [c.seq for c in selectors.changes_after(room=room, after=seen[-1] if seen else 0, limit=500)]
                expected = list(range(len(seen) + 1, len(seen) + 1 + len(batch)))
                assert batch == expected, f"saw {batch[:5]}… after {len(seen)}"
                seen.extend(batch)
                if stop.is_set() and not batch:
                    break
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    reader = threading.Thread(target=read)
    threads = [threading.Thread(target=write, args=(user,)) for user in writers]
    reader.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    stop.set()
    reader.join(60)
    assert not errors, errors
    assert seen == list(range(1, 181))
    assert position(room) == 180
    posted = [m for _, kind, m in changes(room) if kind == "posted"]
    assert posted == sorted(posted)  # message ids follow the sequence too


def test_a_long_replay_comes_in_frames_clients_accept_with_the_position_last(group, monkeypatch):
    room, owner, _ = group
    monkeypatch.setattr(broadcasts, "REPLAY_FRAME_BYTES", 6_000)
    ids = [services.message_post(room=room, author=owner, body=f"{n} " + "x" * 1_500).pk for n in range(8)]
    frames = broadcasts.replay(room=room, after=0).frames
    assert len(frames) > 1
    assert all(len(frame) < 6_000 + 5_000 for frame in frames)  # the budget, plus at most one message
    assert ["chat-seq" in frame for frame in frames] == [False] * (len(frames) - 1) + [True]
    shown = [int(pk) for frame in frames for pk in re.findall(r'<article id="message-(\d+)"', frame)]
    assert shown == ids
