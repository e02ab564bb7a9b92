"""The JSON body parser: the domain's strict JSON (validators.parse_json), so a body the import
would refuse -- NaN, Infinity, a number too large for a float, nesting past MAX_JSON_DEPTH -- is a
400 here too, never a 500 (a 885-level body parsed, then failed to render) or a stored value
PostgreSQL refuses."""

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from conversations import validators
from conversations.errors import InvalidInput


class JSONBodyParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        encoding = (parser_context or {}).get("encoding", "utf-8")
        try:
            # decoded strictly first: json.loads(bytes) would let encoded surrogates through
            return validators.parse_json((stream.read() if stream is not None else b"").decode(encoding))
        except UnicodeDecodeError as exc:
            raise ParseError(f"JSON parse error - the body is not valid {encoding}: {exc}") from None
        except InvalidInput as exc:
            raise ParseError(f"JSON parse error - {exc.message}") from None
