"""The site's settings, as the test suite and the servers it starts run them.

One difference: every test user has a password, and the production hasher's
deliberate slowness would be most of the suite's time (logins through the real
form included), so passwords are hashed with a fast one.
"""

from config.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Pages render without a collectstatic first: the manifest's hashed, compressed
# files are built and checked where they are the subject
# (tests/config/test_static_files.py, tests/browser/test_pages.py).
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}  # noqa: F405
SERVESTATIC_USE_FINDERS = True

if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":  # noqa: F405
    # Faster emptying after transactional tests (tests/postgresql/base.py).
    DATABASES["default"]["ENGINE"] = "tests.postgresql"  # noqa: F405
