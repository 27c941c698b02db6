"""Every mail links to SITE_URL: a mailbox has no page for a relative link to be
relative to. Order mails here; allauth's, the private room's and the group
invite's are tested with their flows (tests/accounts, tests/rooms/test_pages.py)."""

from __future__ import annotations

import re

import pytest
from django.core import mail

from orders import services
from tests.orders.conftest import place

pytestmark = pytest.mark.django_db
SITE = "https://boost.example"
PATH = re.compile(r"(?<![\w/.:])/(?:orders|chat|dashboard|accounts)/\S*")


def test_order_mails_link_to_the_site(make_user, settings, django_capture_on_commit_callbacks):
    settings.SITE_URL = SITE
    customer, booster = make_user("cust"), make_user("boost", role="booster")
    with django_capture_on_commit_callbacks(execute=True):
        order = place(customer)
        services.order_claim(order=order, booster=booster)
    assert len(mail.outbox) >= 2
    for message in mail.outbox:
        assert f"{SITE}/orders/{order.pk}/" in message.body, message.body
        assert PATH.findall(message.body) == [], message.body
