"""Uploaded profile pictures: set and removed on the settings page, checked like
any image, served at one access-checked URL per version of a user's picture,
and shown wherever avatars show, the same bytes for every viewer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts import services
from accounts.models import Avatar
from rooms import broadcasts, selectors
from rooms import services as room_services
from tests.uploads.conftest import cloudinary_requests  # noqa: F401 - Cloudinary answered locally
from tests.uploads.samples import image_bytes
from uploads import validation

pytestmark = pytest.mark.django_db

SETTINGS = "/accounts/settings/"
UPLOAD = "/accounts/settings/avatar/"
REMOVE = "/accounts/settings/avatar/remove/"


@pytest.fixture(autouse=True)
def media(settings, tmp_path) -> Path:
    settings.MEDIA_ROOT = tmp_path
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"}}
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": f"avatars-{tmp_path}"}
    }
    return tmp_path


def stored_files(root: Path) -> set[str]:
    return {str(path.relative_to(root)) for path in root.rglob("*") if path.is_file()}


def picture(name: str = "me.png", fmt: str = "PNG", size: tuple[int, int] = (90, 60)) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, image_bytes(fmt, size))


def validated(upload: SimpleUploadedFile | None = None) -> validation.ValidatedFile:
    return validation.validate_upload(upload or picture(), images_only=True)


def give_avatar(user) -> Avatar:
    return services.avatar_set(user=user, image=validated())


# SERVICE


def test_a_picture_is_stored_with_its_thumbnail_under_a_versioned_url(make_user, media):
    user = make_user("alice")
    avatar = give_avatar(user)
    assert {avatar.image.name, avatar.thumbnail.name} == stored_files(media)
    assert avatar.thumbnail.name.startswith(f"avatars/{user.pk}/thumbs/")
    assert avatar.get_absolute_url() == f"/accounts/avatars/{user.pk}/{avatar.version}/"
    assert len(avatar.version) == 32  # the server-made name, never the uploaded one


def test_replacing_deletes_the_old_files_only_after_commit(make_user, media, django_capture_on_commit_callbacks):
    user = make_user()
    old = give_avatar(user)
    old_files = stored_files(media)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        new = services.avatar_set(user=user, image=validated(picture("new.jpg", "JPEG")))
    # Not committed yet: the old picture is still there for every page that shows it.
    assert old_files <= stored_files(media)
    for callback in callbacks:
        callback()
    assert stored_files(media) == {new.image.name, new.thumbnail.name}
    assert new.version != old.version
    assert Avatar.objects.get(user=user).thumbnail.name == new.thumbnail.name


def test_removing_goes_back_to_initials_and_deletes_the_files_after_commit(
    make_user, media, django_capture_on_commit_callbacks
):
    user = make_user()
    give_avatar(user)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert services.avatar_remove(user=user) is True
    assert not Avatar.objects.filter(user=user).exists()
    assert len(stored_files(media)) == 2
    for callback in callbacks:
        callback()
    assert stored_files(media) == set()
    assert services.avatar_remove(user=user) is False


def test_the_service_refuses_a_file_that_is_not_an_image(make_user, media):
    user = make_user()
    text = validation.validate_upload(SimpleUploadedFile("notes.txt", b"just words"))
    with pytest.raises(services.AvatarError):
        services.avatar_set(user=user, image=text)
    assert not Avatar.objects.filter(user=user).exists()
    assert stored_files(media) == set()


# SETTINGS PAGE


def test_uploading_on_the_settings_page_shows_the_picture(make_user, client_for):
    user = make_user()
    client = client_for(user)
    response = client.post(UPLOAD, {"avatar": picture()})
    assert response.status_code == 302 and response["Location"] == SETTINGS
    avatar = Avatar.objects.get(user=user)
    page = client.get(SETTINGS).content.decode()
    assert f'src="{avatar.get_absolute_url()}"' in page
    assert "Your picture is saved." in page and "Remove picture" in page


# What each bad file is told, and the status it comes back with.
BAD_FILES = {
    "an .exe renamed .png": (SimpleUploadedFile("me.png", b"MZ\x90\x00" + b"\x00" * 200), 422, "do not match its name"),
    "not an image": (SimpleUploadedFile("me.pdf", b"%PDF-1.4\n1 0 obj\n"), 422, "Only PNG, JPEG, GIF and WebP images"),
    "text": (SimpleUploadedFile("me.txt", b"hello"), 422, "Only PNG, JPEG, GIF and WebP images"),
    "a truncated PNG": (SimpleUploadedFile("me.png", image_bytes("PNG", (300, 300))[:120]), 422, "could not be read"),
    "an SVG": (SimpleUploadedFile("me.svg", b"<svg onload=alert(1)></svg>"), 422, "SVG"),
    "empty": (SimpleUploadedFile("me.png", b""), 422, "empty"),
    "too big": (picture(size=(400, 400)), 413, "at most 1.0"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_a_bad_file_gets_an_inline_error_and_changes_nothing(case, make_user, client_for, media, settings):
    upload, status, text = BAD_FILES[case]
    upload.seek(0)
    settings.UPLOAD_MAX_BYTES = 1024  # "too big" is the only sample above it
    user = make_user()
    client = client_for(user)
    before_avatar = give_avatar(user)
    before_files = stored_files(media)
    response = client.post(UPLOAD, {"avatar": upload})
    assert response.status_code == status
    html = response.content.decode()
    assert 'id="avatar-error"' in html and text in html
    assert 'aria-invalid="true"' in html
    assert Avatar.objects.get(user=user).thumbnail.name == before_avatar.thumbnail.name
    assert stored_files(media) == before_files


def test_no_file_at_all_is_an_inline_error(make_user, client_for):
    response = client_for(make_user()).post(UPLOAD, {})
    assert response.status_code == 422
    assert validation.UPLOAD_MISSING in response.content.decode()


def test_uploads_share_the_upload_rate_limit(make_user, client_for, settings):
    settings.UPLOAD_RATE_LIMIT = 1
    user = make_user()
    client = client_for(user)
    assert client.post(UPLOAD, {"avatar": picture()}).status_code == 302
    response = client.post(UPLOAD, {"avatar": picture("b.png")})
    assert response.status_code == 429
    assert "uploading too quickly" in response.content.decode()


def test_removing_on_the_settings_page(make_user, client_for, media, django_capture_on_commit_callbacks):
    user = make_user()
    give_avatar(user)
    client = client_for(user)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(REMOVE)
    assert response.status_code == 302
    assert not Avatar.objects.filter(user=user).exists()
    page = client.get(SETTINGS).content.decode()
    assert "/accounts/avatars/" not in page and "Remove picture" not in page
    assert stored_files(media) == set()


# THE PICTURE'S URL


def test_any_signed_in_user_gets_the_picture_with_long_cache_headers(make_user, client_for):
    owner, stranger = make_user(), make_user()
    avatar = give_avatar(owner)
    response = client_for(stranger).get(avatar.get_absolute_url())
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response["Cache-Control"].startswith("private, max-age=") and "immutable" in response["Cache-Control"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert b"".join(response.streaming_content).startswith(b"\x89PNG")


def test_an_old_version_is_sent_to_the_current_one_and_a_missing_one_is_404(make_user, client_for):
    owner = make_user()
    client = client_for(make_user())
    old = give_avatar(owner)
    new = services.avatar_set(user=owner, image=validated(picture("b.png")))
    response = client.get(old.get_absolute_url())
    assert response.status_code == 302 and response["Location"] == new.get_absolute_url()
    assert "immutable" not in response["Cache-Control"]
    services.avatar_remove(user=owner)
    assert client.get(new.get_absolute_url()).status_code == 404
    assert client.get(f"/accounts/avatars/{owner.pk + 999}/x/").status_code == 404


def test_anonymous_visitors_are_sent_to_log_in(make_user, client_for):
    avatar = give_avatar(make_user())
    response = client_for(None).get(avatar.get_absolute_url())
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_on_cloudinary_the_stable_url_redirects_and_caches_less_than_the_signed_url_lives(
    make_user,
    client_for,
    cloudinary_requests,  # noqa: F811
    settings,
):
    settings.UPLOAD_URL_TTL_SECONDS = 300
    avatar = give_avatar(make_user())
    response = client_for(make_user()).get(avatar.get_absolute_url())
    assert response.status_code == 302
    assert response["Location"].startswith("https://api.cloudinary.com/")
    assert response["Cache-Control"] == "private, max-age=150"


# WHEREVER AVATARS SHOW


def test_a_pushed_message_carries_the_picture_and_is_the_same_for_every_viewer(make_user, client_for, group):  # noqa: F811
    room, owner, member = group
    avatar = give_avatar(owner)
    message = room_services.message_post(room=room, author=owner, body="look at my face")
    pushed = broadcasts.render_message(selectors.messages_by_id(ids=[message.pk])[message.pk])
    assert f'<img class="avatar avatar-picture" src="{avatar.get_absolute_url()}"' in pushed
    # The member without a picture keeps initials.
    reply = room_services.message_post(room=room, author=member, body="nice")
    assert '<span class="avatar avatar-' in broadcasts.render_message(reply)
    # The page's copy is the same markup whoever looks: nothing in it depends on the viewer.
    pages = [client_for(viewer).get(room.get_absolute_url()).content.decode() for viewer in (owner, member)]
    article = pushed[pushed.index("<article") : pushed.index("</article>")]
    assert all(article in page for page in pages)


@pytest.mark.django_db(transaction=True)
async def test_the_socket_push_carries_the_picture(make_user, group, socket_for):  # noqa: F811
    from channels.db import database_sync_to_async

    room, owner, member = group
    avatar = await database_sync_to_async(give_avatar)(owner)
    socket = await socket_for(f"/ws/chatroom/{room.name}/", member)
    connected, _ = await socket.connect()
    assert connected
    try:
        await database_sync_to_async(room_services.message_post)(room=room, author=owner, body="live face")
        while True:
            frame = await socket.receive_from(timeout=5)
            if "live face" in frame:
                break
        assert f'src="{avatar.get_absolute_url()}"' in frame
    finally:
        await socket.disconnect()


def test_member_list_header_and_api_show_the_picture(make_user, client_for, group):  # noqa: F811
    room, owner, member = group
    avatar = give_avatar(member)
    room_services.message_post(room=room, author=member, body="hi")
    page = client_for(member).get(room.get_absolute_url()).content.decode()
    members = page[page.index('id="member-list"') : page.index('id="chat-socket"')]
    assert f'src="{avatar.get_absolute_url()}"' in members
    menu = page.index('id="user-menu"')
    header = page[menu : page.index("</summary>", menu)]
    assert f'src="{avatar.get_absolute_url()}"' in header
    api = json.loads(client_for(owner).get(f"/api/rooms/{room.name}/messages/").content)
    authors = {m["author"]["id"]: m["author"]["avatar_url"] for m in api["messages"]}
    assert authors[member.pk] == avatar.get_absolute_url()


def test_pictures_cost_no_query_per_message_or_member(make_user, client_for, group):  # noqa: F811
    room, owner, member = group
    client = client_for(owner)

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(room.get_absolute_url()).status_code == 200
        return len(queries.captured_queries)

    give_avatar(owner)
    room_services.message_post(room=room, author=owner, body="one")
    few = count()
    for n in range(6):
        person = make_user(f"face{n}")
        room.members.add(person)
        give_avatar(person)
        room_services.message_post(room=room, author=person, body=f"hello {n}")
    assert count() == few
