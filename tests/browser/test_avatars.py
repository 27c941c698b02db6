"""A profile picture as a person sets it: refused files say why on the settings
page, a good one shows at once in the header, and the people in a room see it
beside the owner's new message, pushed live, and in the member list."""

from __future__ import annotations

from io import BytesIO

import pytest
from PIL import Image
from playwright.sync_api import expect

from tests.browser.conftest import open_room, send
from uploads.validation import UPLOAD_NAME_MISMATCH

pytestmark = pytest.mark.browser

# Waits for the picture to arrive and decode; a broken one rejects (False).
LOADED = "img => img.decode().then(() => img.naturalWidth > 0, () => false)"


def png() -> bytes:
    out = BytesIO()
    Image.new("RGB", (120, 90), (20, 160, 90)).save(out, format="PNG")
    return out.getvalue()


def test_a_picture_set_on_the_settings_page_shows_beside_messages_for_everyone(site, people):
    owner_name, viewer_name = site.users("face", "viewer")
    room = site.group(admin=owner_name, members=[viewer_name])
    viewer = people(viewer_name).page
    open_room(viewer, room)

    owner = people(owner_name).page
    owner.goto("/accounts/settings/")
    picker = owner.locator("#avatar-file")
    picker.set_input_files(files=[{"name": "me.png", "mimeType": "image/png", "buffer": b"MZ\x90\x00" + bytes(300)}])
    owner.locator("#avatar-settings button[type=submit]").click()
    expect(owner.locator("#avatar-error")).to_have_text(UPLOAD_NAME_MISMATCH)
    expect(owner.locator("#user-menu summary img.avatar")).to_have_count(0)

    owner.locator("#avatar-file").set_input_files(files=[{"name": "me.png", "mimeType": "image/png", "buffer": png()}])
    owner.locator("#avatar-settings button[type=submit]").click()
    expect(owner.locator("#avatar-error")).to_have_count(0)
    header_picture = owner.locator("#user-menu summary img.avatar")
    expect(header_picture).to_have_count(1)
    assert header_picture.evaluate(LOADED)

    open_room(owner, room)
    send(owner, "my new face")
    pushed = viewer.locator("#messages > article.msg", has_text="my new face").locator("img.avatar")
    expect(pushed).to_have_attribute("src", header_picture.get_attribute("src"))

    viewer.reload()
    expect(viewer.locator("#member-list img.avatar")).to_have_count(1)
