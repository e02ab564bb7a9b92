"""Realistic fake conversations at scale, for `manage.py seed` and the benchmarks.

Bodies are built already normalised (ids, status, content as parts), exactly as the API
would store them, so seeding skips per-item validation; tests check a sample against it.
"""

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone

from . import ids
from .item_rules import NormalizedItem
from .search_text import extract_text

PLANS = (["free"] * 6) + (["pro"] * 3) + ["enterprise"]
CHANNELS = ["web", "web", "mobile", "email", "api"]
LOCALES = ["en-US", "en-US", "en-US", "en-GB", "fr-FR", "de-DE", "es-ES", "ja-JP"]
TOPICS = {
    "order": ["Where is my order {n}?", "My parcel {n} has not arrived yet.",
              "The tracking page for order {n} is blank.", "Can I change the delivery address of order {n}?"],
    "refund": ["I would like a refund for order {n}.", "The kettle I bought arrived broken, can I get my money back?",
               "How long does a refund take to reach my card?", "I was charged twice for invoice {n}."],
    "account": ["I cannot log in to my account.", "The password reset email never arrives.",
                "How do I enable two-factor authentication?", "Please delete my account and my data."],
    "billing": ["Why did my subscription price change?", "Can I switch from the annual to the monthly plan?",
                "I need a VAT invoice for my company.", "My card was declined at checkout."],
    "product": ["Does the blender work with 110 volts?", "Is this jacket waterproof or only water resistant?",
                "Which cable do I need for the docking station?", "Is the sofa available in dark green?"],
}
ANSWERS = [
    "Thanks for reaching out! I checked {topic} {n} and {detail}.",
    "Sorry about the trouble. {detail_cap}, and I have added a note to your account.",
    "Good question. {detail_cap}. Is there anything else I can help with?",
    "I understand how frustrating that is. {detail_cap}; you will get an email confirmation shortly.",
]
DETAILS = [
    "it shipped yesterday and should arrive within two business days",
    "the refund was issued and takes five to seven days to appear",
    "the reset link was sent again to your primary address",
    "the discount from the spring promotion has been applied",
    "a replacement is on its way at no extra cost",
    "the courier reported a delay at the regional depot",
    "your plan renews on the first of next month",
    "the warehouse confirmed the item is back in stock",
]
FILLER = ("please thanks urgent again today yesterday tomorrow weekend customer service agent manager colour size "
          "warranty receipt voucher coupon discount delivery courier depot warehouse store app website email "
          "phone chat invoice payment card bank transfer paypal subscription renewal cancel upgrade downgrade "
          "battery charger screen keyboard headphones speaker camera lens printer router modem").split()
FUNCTIONS = ["lookup_order", "issue_refund", "reset_password", "get_invoice", "check_stock", "update_address"]


@dataclass
class SeedConversation:
    public_id: str
    metadata: dict
    created_at: datetime
    items: list[dict]  # normalised bodies, in order


class Seeder:
    """Generates conversations deterministically from `seed`."""

    def __init__(self, *, conversations: int, items_per_conversation: int, seed: int = 42,
                 span: timedelta = timedelta(days=90)):
        self.total = conversations
        self.per = items_per_conversation
        self.random = random.Random(seed)
        self.end = timezone.now()
        self.start = self.end - span
        self.users = max(1, conversations // 5)

    def conversations(self, first: int = 0, stop: int | None = None) -> Iterator[SeedConversation]:
        """Conversations first..stop of the whole run (older first), spread evenly over the span."""
        step = (self.end - self.start) / max(self.total, 1)
        for n in range(first, self.total if stop is None else stop):
            created_at = self.start + step * n + timedelta(microseconds=self.random.randrange(1000))
            yield SeedConversation(
                public_id=ids.new_conversation_id(),
                metadata=self.metadata(),
                created_at=created_at,
                items=self.items(),
            )

    def metadata(self) -> dict:
        r = self.random
        metadata = {"user_id": f"user_{r.randrange(self.users)}", "plan": r.choice(PLANS),
                    "channel": r.choice(CHANNELS)}
        if r.random() < 0.7:
            metadata["locale"] = r.choice(LOCALES)
        if r.random() < 0.2:
            metadata["ticket"] = f"T-{r.randrange(10**6):06d}"
        return metadata

    def sentence(self, template: str, topic: str) -> str:
        r = self.random
        detail = r.choice(DETAILS)
        text = template.format(n=r.randrange(10**5), topic=topic, detail=detail, detail_cap=detail.capitalize())
        extra = " ".join(r.choice(FILLER) for _ in range(r.randrange(0, 12)))
        return f"{text} {extra}".strip()

    def items(self) -> list[dict]:
        r = self.random
        topic = r.choice(list(TOPICS))
        bodies: list[dict] = []
        if r.random() < 0.3:
            bodies.append(message("system", "You are a helpful, concise customer support agent."))
        while len(bodies) < self.per:
            bodies.append(message("user", self.sentence(r.choice(TOPICS[topic]), topic)))
            roll = r.random()
            if roll < 0.2 and len(bodies) + 2 < self.per:
                call_id = ids.new_id("call")
                name = r.choice(FUNCTIONS)
                bodies.append({"type": "function_call", "id": ids.new_item_id("function_call"), "call_id": call_id,
                               "name": name, "arguments": json.dumps({"id": str(r.randrange(10**5))}),
                               "status": "completed"})
                bodies.append({"type": "function_call_output", "id": ids.new_item_id("function_call_output"),
                               "call_id": call_id, "status": "completed",
                               "output": json.dumps({"ok": True, "detail": r.choice(DETAILS)})})
            elif roll < 0.3:
                summary = f"The customer asks about {topic}; {r.choice(DETAILS)}."
                bodies.append({"type": "reasoning", "id": ids.new_item_id("reasoning"), "status": "completed",
                               "summary": [{"type": "summary_text", "text": summary}]})
            bodies.append(message("assistant", self.sentence(r.choice(ANSWERS), topic)))
        return bodies[: self.per]


def message(role: str, text: str) -> dict:
    part = ({"type": "output_text", "text": text, "annotations": []} if role == "assistant"
            else {"type": "input_text", "text": text})
    return {"type": "message", "id": ids.new_item_id("message"), "role": role, "status": "completed",
            "content": [part]}


def normalized_item(body: dict) -> NormalizedItem:
    """A generated body as the import's writer stores it (the bodies are already normal: tested)."""
    return NormalizedItem(public_id=body["id"], type=body["type"], role=body.get("role", ""),
                          status=body.get("status", ""), body=body, text=extract_text(body))
