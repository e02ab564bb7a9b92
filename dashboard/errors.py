"""The console's one mapping of domain errors (conversations.errors), as api/exceptions.py is the
API's: console views raise, and never catch a DomainError to answer it themselves.

- A form's own rules: `with domain_rules():` around a conversations.validators call in a form's
  clean() turns its InvalidInput into the form's error, shown beside the form as typed.
- Anything a view lets through, by DomainErrorsMiddleware:
  - NotFound is the 404 page, unless a view names with @returns_to where its forms lead back
    (revoking an unknown key: the keys page, saying so);
  - any other DomainError on a page (GET) is a 400 with its message; after a form (POST), the
    message on the page the view returns to (default: the search), reached by a redirect (an
    HX-Redirect for htmx).
"""

from contextlib import contextmanager

from django import forms
from django.contrib import messages
from django.core.handlers.exception import response_for_exception
from django.http import Http404, HttpResponseBadRequest
from django.shortcuts import redirect
from django.urls import reverse
from django_htmx.http import HttpResponseClientRedirect

from conversations.errors import DomainError, InvalidInput, NotFound

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
DEFAULT_RETURN = "dashboard:conversation-list"


@contextmanager
def domain_rules():
    """In a form's clean(): the domain's InvalidInput becomes a ValidationError of the form."""
    try:
        yield
    except InvalidInput as exc:
        raise forms.ValidationError(exc.message, code=exc.code) from None


def returns_to(url_name: str):
    """Where this view's forms lead when the domain refuses them: the message is shown there."""

    def decorator(view):
        view.returns_to = url_name  # carried outwards by the other decorators' functools.wraps
        return view

    return decorator


class DomainErrorsMiddleware:
    """Answers a DomainError raised by a console view (the dashboard URL namespace only: the API
    answers its own through DRF's exception handler before any middleware sees it)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        match = request.resolver_match
        if not isinstance(exception, DomainError) or match is None or match.app_name != "dashboard":
            return None
        after_form = request.method not in SAFE_METHODS
        returns_to = getattr(match.func, "returns_to", None)
        if isinstance(exception, NotFound) and not (after_form and returns_to):
            # Django's own 404 answer (handler404, the 404.html page), as for an Http404.
            return response_for_exception(request, Http404(exception.message))
        if not after_form:
            return HttpResponseBadRequest(exception.message, content_type="text/plain; charset=utf-8")
        messages.error(request, exception.message)
        url = reverse(returns_to or DEFAULT_RETURN)
        return HttpResponseClientRedirect(url) if request.htmx else redirect(url)
