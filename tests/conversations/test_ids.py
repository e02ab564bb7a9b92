import re

from conversations import ids


def test_conversation_ids_look_like_openais():
    assert re.fullmatch(r"conv_[0-9a-f]{48}", ids.new_conversation_id())


def test_item_ids_carry_the_prefix_of_their_type():
    assert re.fullmatch(r"msg_[0-9a-f]{48}", ids.new_item_id("message"))
    assert ids.new_item_id("function_call").startswith("fc_")
    assert ids.new_item_id("reasoning").startswith("rs_")


def test_ids_do_not_repeat():
    assert len({ids.new_conversation_id() for _ in range(1000)}) == 1000


def test_every_item_type_of_the_sdk_has_its_own_prefix():
    from conversations.item_rules import output_models

    assert set(output_models()) == set(ids.ITEM_PREFIXES)
    assert len(set(ids.ITEM_PREFIXES.values())) == len(ids.ITEM_PREFIXES)
