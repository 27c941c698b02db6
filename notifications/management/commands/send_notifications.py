from django.core.management.base import BaseCommand

from notifications.services import notifications_send_due


class Command(BaseCommand):
    help = (
        "Send the offline notifications that are due (batched emails, Web Push). "
        "Server processes do this themselves every NOTIFICATION_POLL_SECONDS; run this "
        "from cron when that is 0. Safe alongside them: each email goes once."
    )

    def handle(self, *args, **options) -> None:
        sent = notifications_send_due()
        self.stdout.write(f"{sent.emails} email(s), {sent.pushes} push(es) sent")
