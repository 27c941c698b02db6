import secrets

import django.db.models.deletion
import django.utils.timezone
import rooms.models
from django.conf import settings
from django.db import migrations, models


def invite_every_group(apps, schema_editor):
    """Until now a group's name was its invite; from now on each gets a token."""
    Room = apps.get_model("rooms", "Room")
    RoomInvite = apps.get_model("rooms", "RoomInvite")
    RoomInvite.objects.bulk_create(
        RoomInvite(room=room, created_by_id=room.admin_id, token=secrets.token_urlsafe(24))
        for room in Room.objects.filter(kind="group").exclude(invites__isnull=False)
    )


class Migration(migrations.Migration):

    dependencies = [
        ('rooms', '0003_message_body_html_mentions'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='RoomInvite',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('token', models.CharField(default=rooms.models.new_invite_token, max_length=64, unique=True)),
                ('created', models.DateTimeField(default=django.utils.timezone.now)),
                ('expires_at', models.DateTimeField(blank=True, null=True)),
                ('revoked_at', models.DateTimeField(blank=True, null=True)),
                ('created_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('room', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='invites', to='rooms.room')),
            ],
            options={
                'ordering': ['-created', '-id'],
            },
        ),
        migrations.CreateModel(
            name='RoomRemoval',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('removed_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('newest_invite_id', models.PositiveBigIntegerField(default=0, help_text='Invites up to this id predate the removal')),
                ('room', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='removals', to='rooms.room')),
                ('user', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('room', 'user'), name='room_removal_once_per_user')],
            },
        ),
        migrations.RunPython(invite_every_group, migrations.RunPython.noop),
    ]
