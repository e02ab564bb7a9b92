"""handler500, shared by both front doors: the answer when an exception escapes every view and
middleware. (Each front door maps the domain's errors itself: api/exceptions.py for the API,
dashboard/errors.py for the console.)

A database that went away (restarted, connections killed, unreachable) is a 503, not a 500: JSON in
OpenAI's error shape under /v1, a plain page for the console. The page is rendered without the
request's context processors, which would ask the missing database who is logged in.
"""

import sys

from django.http import HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.views.defaults import server_error as django_server_error

from api.exceptions import DATABASE_UNAVAILABLE, database_unavailable
from api.exceptions import server_error as api_server_error
from api.middleware import API_PREFIX


def server_error(request):
    exception = sys.exc_info()[1]  # Django calls handler500 while handling the exception
    database_gone = isinstance(exception, DATABASE_UNAVAILABLE)
    if request.path.startswith(API_PREFIX) or request.path == API_PREFIX.rstrip("/"):
        status, body, headers = database_unavailable(request) if database_gone else api_server_error(request)
        return JsonResponse(body, status=status, headers=headers)
    if database_gone:
        page = render_to_string("503.html", {"was_write": request.method not in ("GET", "HEAD", "OPTIONS")})
        return HttpResponse(page, status=503)
    return django_server_error(request)
