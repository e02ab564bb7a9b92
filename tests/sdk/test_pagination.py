"""Auto-pagination (`for item in sdk.conversations.items.list(...)`) over real HTTP.

The SDK's cursor page follows `last_id` while `has_more` is true, repeating the original
query and adding `after=<last_id>` (spec §4). `after` is relative to `order`.
"""

import pytest
from openai import BadRequestError

from tests.sdk.helpers import numbered_messages, texts

ORDERS = ["asc", "desc"]


def _conversation_with(sdk, count: int) -> tuple[str, list[str]]:
    """A conversation holding messages m0..m{count-1}; returns its id and the item ids, oldest first."""
    conversation = sdk.conversations.create(items=numbered_messages(min(count, 20)))
    for start in range(20, count, 20):
        sdk.conversations.items.create(conversation.id, items=numbered_messages(min(20, count - start), start))
    ids = [item.id for item in sdk.conversations.items.list(conversation.id, order="asc", limit=100)]
    assert len(ids) == count
    return conversation.id, ids


def _list_requests(log, conversation_id: str) -> list:
    return [r for r in log if r.method == "GET" and r.path == f"/v1/conversations/{conversation_id}/items"]


@pytest.mark.parametrize("order", ORDERS)
def test_auto_pagination_yields_every_item_once_in_order(counting_sdk, requests_log, order):
    conversation_id, ids = _conversation_with(counting_sdk, 10)
    expected = ids if order == "asc" else ids[::-1]
    requests_log.clear()

    seen = [item.id for item in counting_sdk.conversations.items.list(conversation_id, limit=3, order=order)]

    assert seen == expected
    # 3 + 3 + 3 + 1: four pages, each asking for the same limit and order, chained by `after`.
    pages = _list_requests(requests_log, conversation_id)
    assert len(pages) == 4
    assert [r.params.get("after") for r in pages] == [None, [expected[2]], [expected[5]], [expected[8]]]
    assert all(r.params["limit"] == ["3"] and r.params["order"] == [order] for r in pages)


@pytest.mark.parametrize("order", ORDERS)
def test_auto_pagination_starts_after_the_given_item(sdk, order):
    conversation_id, ids = _conversation_with(sdk, 10)
    cursor = ids[4]

    seen = [item.id for item in sdk.conversations.items.list(conversation_id, limit=3, order=order, after=cursor)]

    # asc: the newer items m5..m9; desc (the default order): the older items m3..m0.
    assert seen == (ids[5:] if order == "asc" else ids[3::-1])


@pytest.mark.parametrize("order", ORDERS)
def test_pages_carry_has_more_first_id_and_last_id(sdk, order):
    conversation_id, ids = _conversation_with(sdk, 5)
    expected = ids if order == "asc" else ids[::-1]

    first = sdk.conversations.items.list(conversation_id, limit=2, order=order)
    second = first.get_next_page()
    third = second.get_next_page()

    assert [item.id for item in first.data] == expected[0:2]
    assert (first.first_id, first.last_id, first.has_more) == (expected[0], expected[1], True)
    assert first.has_next_page()
    assert [item.id for item in second.data] == expected[2:4]
    assert (second.first_id, second.last_id, second.has_more) == (expected[2], expected[3], True)
    assert [item.id for item in third.data] == expected[4:]
    assert (third.first_id, third.last_id, third.has_more) == (expected[4], expected[4], False)
    assert not third.has_next_page()


def test_an_exact_multiple_of_the_limit_needs_no_extra_empty_page(counting_sdk, requests_log):
    conversation_id, ids = _conversation_with(counting_sdk, 9)
    requests_log.clear()

    pages = list(counting_sdk.conversations.items.list(conversation_id, limit=3, order="asc").iter_pages())

    assert [len(page.data) for page in pages] == [3, 3, 3]
    assert pages[-1].has_more is False
    assert len(_list_requests(requests_log, conversation_id)) == 3


@pytest.mark.parametrize("order", ORDERS)
def test_after_the_last_item_in_that_order_is_an_empty_final_page(sdk, order):
    conversation_id, ids = _conversation_with(sdk, 3)
    cursor = ids[-1] if order == "asc" else ids[0]

    page = sdk.conversations.items.list(conversation_id, order=order, after=cursor)

    assert page.data == []
    assert (page.first_id, page.last_id, page.has_more) == (None, None, False)
    assert list(page) == []


def test_default_limit_is_20_and_default_order_is_newest_first(counting_sdk, requests_log):
    conversation_id, ids = _conversation_with(counting_sdk, 25)
    requests_log.clear()

    first = counting_sdk.conversations.items.list(conversation_id)
    everything = [item.id for item in counting_sdk.conversations.items.list(conversation_id)]

    assert [item.id for item in first.data] == ids[::-1][:20]
    assert first.has_more is True
    assert everything == ids[::-1]
    # Only parameters the caller set are sent: the defaults are the server's.
    assert all("limit" not in r.params and "order" not in r.params for r in requests_log)


def test_limit_100_returns_up_to_100_items_in_one_page(sdk):
    conversation_id, ids = _conversation_with(sdk, 25)

    page = sdk.conversations.items.list(conversation_id, limit=100, order="asc")

    assert [item.id for item in page.data] == ids
    assert page.has_more is False


def test_pagination_follows_the_timeline_through_writes_between_pages(sdk):
    """Keyset pages: items deleted ahead of the cursor are skipped, items appended are reached."""
    conversation_id, ids = _conversation_with(sdk, 6)
    pages = sdk.conversations.items.list(conversation_id, limit=2, order="asc").iter_pages()
    first = next(pages)

    sdk.conversations.items.delete(ids[3], conversation_id=conversation_id)
    sdk.conversations.items.create(conversation_id, items=numbered_messages(2, start=6))
    rest = [item for page in pages for item in page.data]

    assert texts(first.data) == ["m0", "m1"]
    assert texts(rest) == ["m2", "m4", "m5", "m6", "m7"]


# --- paging parameters the server refuses (400, never retried) ------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "param", "code"),
    [
        ({"limit": 0}, "limit", "integer_below_min_value"),
        ({"limit": 101}, "limit", "integer_above_max_value"),
        ({"order": "sideways"}, "order", "invalid_value"),
        ({"after": "msg_does_not_exist"}, "after", None),
        ({"include": ["message.everything"]}, "include", "invalid_value"),
    ],
)
def test_bad_paging_parameters_are_a_400_naming_the_parameter(sdk, kwargs, param, code):
    conversation_id, _ = _conversation_with(sdk, 1)

    with pytest.raises(BadRequestError) as raised:
        sdk.conversations.items.list(conversation_id, **kwargs)

    assert raised.value.status_code == 400
    assert raised.value.param == param
    assert raised.value.type == "invalid_request_error"
    if code is not None:
        assert raised.value.code == code


def test_after_must_name_an_item_of_this_conversation(sdk):
    conversation_id, _ = _conversation_with(sdk, 2)
    _, other_ids = _conversation_with(sdk, 2)

    with pytest.raises(BadRequestError) as raised:
        sdk.conversations.items.list(conversation_id, after=other_ids[0])

    assert raised.value.param == "after"
    assert other_ids[0] in raised.value.message


# --- async ----------------------------------------------------------------------------------------


async def _async_conversation_with(async_sdk, count: int) -> tuple[str, list[str]]:
    conversation = await async_sdk.conversations.create(items=numbered_messages(count))
    ids = [item.id async for item in async_sdk.conversations.items.list(conversation.id, order="asc", limit=100)]
    assert len(ids) == count
    return conversation.id, ids


@pytest.mark.anyio
@pytest.mark.parametrize("order", ORDERS)
async def test_async_auto_pagination_yields_every_item_once_in_order(counting_async_sdk, requests_log, order):
    conversation_id, ids = await _async_conversation_with(counting_async_sdk, 10)
    expected = ids if order == "asc" else ids[::-1]
    requests_log.clear()

    pages = counting_async_sdk.conversations.items.list(conversation_id, limit=3, order=order)
    seen = [item.id async for item in pages]

    assert seen == expected
    pages = _list_requests(requests_log, conversation_id)
    assert [r.params.get("after") for r in pages] == [None, [expected[2]], [expected[5]], [expected[8]]]


@pytest.mark.anyio
@pytest.mark.parametrize("order", ORDERS)
async def test_async_auto_pagination_starts_after_the_given_item(async_sdk, order):
    conversation_id, ids = await _async_conversation_with(async_sdk, 10)

    seen = [
        item.id
        async for item in async_sdk.conversations.items.list(conversation_id, limit=3, order=order, after=ids[4])
    ]

    assert seen == (ids[5:] if order == "asc" else ids[3::-1])


@pytest.mark.anyio
async def test_async_pages_can_be_awaited_and_walked_by_hand(async_sdk):
    conversation_id, ids = await _async_conversation_with(async_sdk, 5)

    first = await async_sdk.conversations.items.list(conversation_id, limit=2, order="asc")
    pages = [first]
    async for page in first.iter_pages():
        if page is not first:
            pages.append(page)

    assert [[item.id for item in page.data] for page in pages] == [ids[0:2], ids[2:4], ids[4:]]
    assert [page.has_more for page in pages] == [True, True, False]


@pytest.mark.parametrize("order", ORDERS)
def test_the_list_and_delete_loop_deletes_every_item(sdk, order):
    """The loop from the SDK's README: each page's `after` names an item the loop just deleted."""
    conversation_id, ids = _conversation_with(sdk, 25)
    deleted = []
    for item in sdk.conversations.items.list(conversation_id, limit=10, order=order):
        sdk.conversations.items.delete(item.id, conversation_id=conversation_id)
        deleted.append(item.id)
    assert deleted == (ids if order == "asc" else ids[::-1])
    assert list(sdk.conversations.items.list(conversation_id)) == []


def test_a_cursor_that_never_named_an_item_is_still_refused(sdk):
    conversation_id, _ = _conversation_with(sdk, 3)
    with pytest.raises(BadRequestError) as error:
        sdk.conversations.items.list(conversation_id, after="msg_never_existed")
    assert error.value.param == "after"
