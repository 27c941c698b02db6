"""The site's settings, as the test suite and the servers it starts run them.

Every test user has a password, and the production hasher's deliberate
slowness would be most of the suite's time (logins through the real form
included), so passwords are hashed with a fast one. Static files are served
from static/ as it is, and only by the servers the suite starts (below).
"""

from config.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Pages render without a collectstatic first: the manifest's hashed, compressed
# files are built and checked where they are the subject
# (tests/config/test_static_files.py, tests/browser/test_pages.py).
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}  # noqa: F405
# The servers the suite starts (tests/browser/harness.py) serve static/ through
# the finders whatever DEBUG says. The test process does not: every test client
# builds the middleware chain anew, and ServeStatic then reads the path of every
# file the finders (or STATIC_ROOT) hold: a tenth of a second per client, most of
# the authorization matrix's time, for pages whose static files nobody fetches.
SERVESTATIC_USE_FINDERS = env_bool("SERVESTATIC_USE_FINDERS", False)  # noqa: F405
SERVESTATIC_USE_STATIC_ROOT = False

if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":  # noqa: F405
    # Faster emptying after transactional tests (tests/postgresql/base.py).
    DATABASES["default"]["ENGINE"] = "tests.postgresql"  # noqa: F405
