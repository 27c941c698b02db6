from __future__ import annotations

import secrets
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from realtime import groups

PUBLIC_ROOM_NAME = "public-chat"


class Room(models.Model):
    class Kind(models.TextChoices):
        PUBLIC = "public", "Public"
        PRIVATE = "private", "Private"
        GROUP = "group", "Group"
        ORDER = "order", "Order"

    name = models.SlugField(max_length=64, unique=True, help_text="The URL name: /chat/<name>/")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    title = models.CharField(max_length=100, blank=True)
    admin = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="chat_rooms")
    # Order rooms are also readable by managers and admins.
    staff_access = models.BooleanField(default=False)
    retention = models.DurationField(null=True, blank=True, help_text="Messages older than this are purged.")
    last_message_at = models.DateTimeField(null=True, blank=True)
    # The position of the newest change to this room's history (RoomChange.seq);
    # raised under this row's lock in the change's own transaction.
    last_seq = models.PositiveBigIntegerField(default=0)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def group_name(self) -> str:
        return groups.room(self.pk)

    @property
    def display_title(self) -> str:
        return self.title or self.name

    def get_absolute_url(self) -> str:
        return f"/chat/{self.name}/"


def new_invite_token() -> str:
    # 192 random bits, URL-safe: not guessable, and unrelated to the room's name.
    return secrets.token_urlsafe(24)


class RoomInvite(models.Model):
    """A group's invite link, `/chat/join/<token>/`. At most one per room is
    live (not revoked, not expired); regenerating revokes the old one."""

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="invites")
    token = models.CharField(max_length=64, unique=True, default=new_invite_token)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created", "-id"]

    def __str__(self) -> str:
        return f"invite to {self.room_id} from {self.created:%Y-%m-%d %H:%M}"

    def get_absolute_url(self) -> str:
        return f"/chat/join/{self.token}/"

    def is_live(self, now=None) -> bool:
        now = now or timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)


class RoomRemoval(models.Model):
    """A group's admin removed this user: the invites that existed then no longer
    let them back in; a newer one does."""

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="removals")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    removed_at = models.DateTimeField(default=timezone.now)
    # Ids, not times, tell which invites came before: two clock readings can tie.
    newest_invite_id = models.PositiveBigIntegerField(default=0, help_text="Invites up to this id predate the removal")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["room", "user"], name="room_removal_once_per_user")]

    def __str__(self) -> str:
        return f"{self.user_id} removed from {self.room_id}"


def default_public_retention() -> timedelta:
    return timedelta(days=settings.PUBLIC_CHAT_RETENTION_DAYS)


class Message(models.Model):
    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="messages")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="chat_messages")
    body = models.TextField(blank=True)
    # The body as every view shows it, rendered once when stored (rooms/formatting.py).
    body_html = models.TextField(blank=True, default="")
    mentions = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="mentioned_in")
    # Not auto_now_add: a post sets it to the time its room's row records (rooms.services).
    created = models.DateTimeField(default=timezone.now, editable=False, db_index=True)
    # Set by the sender so a retried send is stored once.
    client_id = models.CharField(max_length=64, null=True, blank=True)
    attachment = models.FileField(upload_to="chat/%Y/%m/", blank=True, max_length=255)
    attachment_thumbnail = models.FileField(upload_to="chat/thumbs/%Y/%m/", blank=True, max_length=255)
    attachment_name = models.CharField(max_length=255, blank=True, help_text="Original filename, display only")
    attachment_type = models.CharField(max_length=100, blank=True)
    attachment_size = models.PositiveBigIntegerField(null=True, blank=True)
    reply_to = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="replies")
    edited_at = models.DateTimeField(null=True, blank=True)
    # A deleted message stays as a tombstone (its body and files are gone) so
    # replies still make sense; counts and search leave it out by this field.
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["room", "id"], name="message_room_id")]
        constraints = [
            models.UniqueConstraint(
                fields=["author", "client_id"],
                condition=Q(client_id__isnull=False),
                name="message_unique_client_id_per_author",
            )
        ]

    # Set by message_post when a send with a known client_id returned the stored row.
    is_retry = False

    def __str__(self) -> str:
        return f"{self.author_id}@{self.room_id}#{self.pk}"

    @property
    def dom_id(self) -> str:
        return f"message-{self.pk}"

    def get_absolute_url(self) -> str:
        """The room opened at this message, scrolled to it (search results)."""
        return f"{self.room.get_absolute_url()}?around={self.pk}#{self.dom_id}"

    def attachment_url(self, *, thumbnail: bool = False) -> str:
        """The guarded URL of the message's file; the view checks the viewer each time."""
        if thumbnail and self.attachment_thumbnail:
            return reverse("uploads:message_thumb", args=[self.pk])
        return reverse("uploads:message_file", args=[self.pk])

    @property
    def is_image(self) -> bool:
        return bool(self.attachment) and self.attachment_type.startswith("image/")

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None


class MessageVersion(models.Model):
    """A body a message had before an edit; its author and staff may read them."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="versions")
    body = models.TextField()
    body_html = models.TextField()
    # When this body stopped being the current one.
    replaced_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.message_id} before {self.replaced_at:%Y-%m-%d %H:%M}"


class Reaction(models.Model):
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="reactions")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    emoji = models.CharField(max_length=32)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["message", "user", "emoji"], name="reaction_once_per_user_and_emoji")
        ]

    def __str__(self) -> str:
        return f"{self.emoji} by {self.user_id} on {self.message_id}"


class RoomChange(models.Model):
    """One change to a room's visible history, at its position in the room's
    sequence; reconnecting clients replay what came after their position."""

    class Kind(models.TextChoices):
        POSTED = "posted", "Posted"
        EDITED = "edited", "Edited"
        DELETED = "deleted", "Deleted"
        REACTED = "reacted", "Reaction added"
        UNREACTED = "unreacted", "Reaction removed"

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="changes")
    seq = models.PositiveBigIntegerField()
    kind = models.CharField(max_length=10, choices=Kind.choices)
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="changes")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    emoji = models.CharField(max_length=32, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["room", "seq"]
        constraints = [models.UniqueConstraint(fields=["room", "seq"], name="room_change_unique_seq")]

    def __str__(self) -> str:
        return f"{self.room_id}@{self.seq} {self.kind} {self.message_id}"


class ReadState(models.Model):
    """Where one user is in one room: every message up to `last_read_id` is read.

    A pointer, not a row per message (Zulip keeps an unread summary the same way):
    unread and mention counts, the new-messages divider and read receipts all
    follow from it. It only moves forward (rooms.services.room_mark_read).
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="read_states")
    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="read_states")
    last_read_id = models.PositiveBigIntegerField(default=0)
    # A muted room is silent (no toast, browser notification, email or push, and
    # no part of the header's total) except for @mentions of this user.
    muted = models.BooleanField(default=False)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "room"], name="readstate_unique_user_room")]
        # Receipts read a room's pointers, newest first.
        indexes = [models.Index(fields=["room", "-last_read_id"], name="readstate_room_pointer")]

    def __str__(self) -> str:
        return f"{self.user_id}@{self.room_id}<={self.last_read_id}"
