from django.core.management.base import BaseCommand

from rooms.services import messages_purge_expired


class Command(BaseCommand):
    help = "Delete messages, and their files, older than their room's retention period."

    def handle(self, *args, **options) -> None:
        deleted = messages_purge_expired()
        self.stdout.write(f"Deleted {deleted} expired message(s).")
