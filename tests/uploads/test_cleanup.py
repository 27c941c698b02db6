"""Cleaning up: files go when their messages or room go, and only after the commit."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.files.storage import default_storage

from rooms.models import Message
from tests.uploads.samples import image_bytes, stored_files, upload
from uploads.validation import validate_upload


def chat_file(room, author, name: str = "a.png") -> Message:
    from rooms import services

    data = image_bytes() if name.endswith(".png") else b"some notes"
    return services.message_post(room=room, author=author, body="", attachment=validate_upload(upload(data, name)))


@pytest.mark.django_db(transaction=True)
def test_purge_command_deletes_expired_files_and_thumbnails(media, group):
    from datetime import timedelta

    from django.core.management import call_command
    from django.utils import timezone

    room, owner, _ = group
    room.retention = timedelta(days=1)
    room.save()
    old, fresh = chat_file(room, owner), chat_file(room, owner)
    Message.objects.filter(pk=old.pk).update(created=timezone.now() - timedelta(days=2))
    old_names = [old.attachment.name, old.attachment_thumbnail.name]
    assert all(default_storage.exists(name) for name in old_names)

    call_command("purge_expired_messages", stdout=StringIO())

    assert not any(default_storage.exists(name) for name in old_names)
    assert list(Message.objects.values_list("pk", flat=True)) == [fresh.pk]
    assert default_storage.exists(fresh.attachment.name) and default_storage.exists(fresh.attachment_thumbnail.name)


def test_purge_deletes_files_only_after_commit_and_survives_storage_errors(
    media, group, monkeypatch, caplog, django_capture_on_commit_callbacks
):
    from datetime import timedelta

    from django.utils import timezone

    from rooms import services

    room, owner, _ = group
    room.retention = timedelta(days=1)
    room.save()
    broken, other = chat_file(room, owner), chat_file(room, owner, "notes.txt")
    Message.objects.update(created=timezone.now() - timedelta(days=2))
    from django.core.files.storage import FileSystemStorage

    real_delete = FileSystemStorage.delete

    def flaky_delete(self, name):
        if name == broken.attachment.name:
            raise OSError("storage is having a moment")
        real_delete(self, name)

    monkeypatch.setattr(FileSystemStorage, "delete", flaky_delete)
    with django_capture_on_commit_callbacks() as callbacks:
        assert services.messages_purge_expired() == 2
        # Rows are gone; files wait for the commit.
        assert not Message.objects.exists()
        assert default_storage.exists(other.attachment.name)
    for callback in callbacks:
        callback()

    assert "storage is having a moment" in caplog.text
    assert not default_storage.exists(broken.attachment_thumbnail.name)
    assert not default_storage.exists(other.attachment.name)


def test_failed_save_removes_the_stored_files(media, group, monkeypatch):
    from django.db import OperationalError

    room, owner, _ = group

    def database_away(self, *args, **kwargs):
        raise OperationalError("database is away")

    monkeypatch.setattr(Message, "save", database_away)
    with pytest.raises(OperationalError):
        chat_file(room, owner)
    assert stored_files(media) == []


def test_room_delete_removes_files_after_commit(media, group, django_capture_on_commit_callbacks):
    from rooms import services
    from rooms.models import Room

    room, owner, _ = group
    message = chat_file(room, owner)
    names = [message.attachment.name, message.attachment_thumbnail.name]
    with django_capture_on_commit_callbacks() as callbacks:
        services.room_delete(room=room, by=owner)
        assert not Room.objects.filter(pk=room.pk).exists()
        # A rollback from here would bring the messages back, so their files stay.
        assert all(default_storage.exists(name) for name in names)
    for callback in callbacks:
        callback()
    assert stored_files(media) == []
