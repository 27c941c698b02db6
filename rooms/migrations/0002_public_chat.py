from datetime import timedelta

from django.conf import settings
from django.db import migrations


def create_public_room(apps, schema_editor):
    Room = apps.get_model("rooms", "Room")
    Room.objects.get_or_create(
        name="public-chat",
        defaults={
            "kind": "public",
            "title": "Public chat",
            "retention": timedelta(days=settings.PUBLIC_CHAT_RETENTION_DAYS),
        },
    )


class Migration(migrations.Migration):
    dependencies = [("rooms", "0001_initial")]

    operations = [migrations.RunPython(create_public_room, migrations.RunPython.noop)]
