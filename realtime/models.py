from django.conf import settings
from django.db import models


class TokenRevocation(models.Model):
    """API tokens issued before `revoked_at` are no longer accepted ("log out everywhere")."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    revoked_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"tokens of {self.user_id} revoked at {self.revoked_at:%Y-%m-%d %H:%M}"
