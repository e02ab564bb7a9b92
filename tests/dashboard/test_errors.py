"""The console's one answer to domain errors (dashboard/errors.py): the 404 page for what is not
there, a 400 with the message for a page that cannot be answered, and after a form the message on
the page the view returns to. Never a 500, whichever view lets the error through."""

import pytest

from conversations import queries, services
from conversations.errors import InvalidInput, NotFound
from conversations.models import AuditEvent
from dashboard import views
from tests.dashboard.helpers import HX
from tests.factories import make_conversation

pytestmark = pytest.mark.django_db


def refusing(error):
    def refuse(*args, **kwargs):
        raise error
    return refuse


def test_a_page_the_domain_refuses_is_a_400_with_its_message(viewer_client, monkeypatch):
    monkeypatch.setattr(queries, "overview", refusing(InvalidInput("Invalid 'days': out of range.", param="days")))
    response = viewer_client.get("/overview/")
    assert (response.status_code, response.content.decode()) == (400, "Invalid 'days': out of range.")


def test_something_gone_is_the_404_page(viewer_client, monkeypatch):
    monkeypatch.setattr(queries, "overview", refusing(NotFound("No such thing.")))
    response = viewer_client.get("/overview/")
    assert response.status_code == 404
    assert "<h1>Not found</h1>" in response.content.decode()


@pytest.fixture
def deleted_meanwhile(project, monkeypatch):
    """A conversation someone else deletes between the page's lookup and its write."""
    conversation = make_conversation(project, metadata={"a": "1"})
    monkeypatch.setattr(views, "_get_conversation", lambda conversation_id: conversation)
    services.conversation_delete(conversation=conversation, actor=services.SYSTEM)
    return conversation


def test_saving_metadata_of_a_conversation_deleted_meanwhile_is_the_404_page(operator_client, deleted_meanwhile):
    url = f"/conversations/{deleted_meanwhile.public_id}/metadata/"
    response = operator_client.post(url, {"key": ["b"], "value": ["2"]})
    assert response.status_code == 404
    assert "<h1>Not found</h1>" in response.content.decode()
    assert not AuditEvent.objects.filter(action="conversation.update").exists()


def test_a_form_the_domain_refuses_shows_the_message_on_the_search(operator_client, project, monkeypatch):
    conversation = make_conversation(project, metadata={"a": "1"})
    monkeypatch.setattr(services, "conversation_update", refusing(InvalidInput("Metadata is on legal hold.")))
    response = operator_client.post(f"/conversations/{conversation.public_id}/metadata/",
                                    {"key": ["b"], "value": ["2"]}, follow=True)
    assert response.redirect_chain == [("/", 302)]
    assert "Metadata is on legal hold." in response.content.decode()


def test_from_htmx_the_refused_form_redirects_the_browser(operator_client, project, monkeypatch):
    conversation = make_conversation(project, metadata={"a": "1"})
    monkeypatch.setattr(services, "conversation_update", refusing(InvalidInput("Metadata is on legal hold.")))
    response = operator_client.post(f"/conversations/{conversation.public_id}/metadata/",
                                    {"key": ["b"], "value": ["2"]}, headers=HX)
    assert (response.status_code, response["HX-Redirect"]) == (200, "/")
    assert "Metadata is on legal hold." in operator_client.get("/").content.decode()


def test_posting_to_a_page_that_is_not_there_is_still_a_404(operator_client, project):
    conversation = make_conversation(project)
    assert operator_client.post(f"/conversations/{conversation.public_id}/items/msg_nope/").status_code == 404


def test_deleting_a_conversation_deleted_meanwhile_is_not_an_error(operator_client, deleted_meanwhile):
    response = operator_client.post(f"/conversations/{deleted_meanwhile.public_id}/delete/", follow=True)
    assert response.redirect_chain == [("/", 302)]
    assert f"Deleted conversation {deleted_meanwhile.public_id}." in response.content.decode()
    assert AuditEvent.objects.filter(action="conversation.delete").count() == 1  # the other deleter's


def test_deleting_an_item_of_a_conversation_deleted_meanwhile_is_not_an_error(operator_client, deleted_meanwhile):
    url = f"/conversations/{deleted_meanwhile.public_id}/items/msg_1/delete/"
    response = operator_client.post(url, headers=HX)
    assert response.status_code == 200
    assert 'hx-swap-oob="true">0 items</span>' in response.content.decode()
    assert not AuditEvent.objects.filter(action="item.delete").exists()
