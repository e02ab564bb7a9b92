"""Database connections outlive a request (a new one per request cost more than the request)."""

import json
import os
import subprocess
import sys

from tests.servers import ROOT

PROBE = """
import json
import django
django.setup()
from django.core.signals import request_finished, request_started
from django.db import connection

request_started.send(sender=None)
connection.ensure_connection()
first = connection.connection
request_finished.send(sender=None)
request_started.send(sender=None)  # the next request, on the same thread
with connection.cursor() as cursor:
    cursor.execute("PRAGMA synchronous")
    synchronous = cursor.fetchone()[0]
    cursor.execute("PRAGMA busy_timeout")
    busy_timeout = cursor.fetchone()[0]
request_finished.send(sender=None)
print(json.dumps({"reused": connection.connection is first, "synchronous": synchronous,
                  "busy_timeout": busy_timeout}))
"""


def test_a_sqlite_connection_serves_the_next_request_with_its_pragmas(tmp_path):
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
           "DJANGO_SETTINGS_MODULE": "convoscope.settings"}
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    probe = json.loads(done.stdout.strip().splitlines()[-1])
    assert probe["reused"] is True
    assert probe["synchronous"] == 1  # NORMAL, from init_command
    assert probe["busy_timeout"] == 20000  # writers wait for the lock instead of failing
