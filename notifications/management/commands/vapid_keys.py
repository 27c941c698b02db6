import base64

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.core.management.base import BaseCommand


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Command(BaseCommand):
    help = "Print a new VAPID key pair for Web Push, as the WEBPUSH_VAPID_* environment variables."

    def handle(self, *args, **options) -> None:
        key = ec.generate_private_key(ec.SECP256R1())
        point = serialization.PublicFormat.UncompressedPoint
        public = key.public_key().public_bytes(serialization.Encoding.X962, point)
        self.stdout.write(f"WEBPUSH_VAPID_PRIVATE_KEY={_b64(key.private_numbers().private_value.to_bytes(32, 'big'))}")
        self.stdout.write(f"WEBPUSH_VAPID_PUBLIC_KEY={_b64(public)}")
