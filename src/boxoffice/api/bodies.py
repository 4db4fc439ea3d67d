"""JSON request bodies are decoded strictly, straight into the handler's type.

Litestar decodes a body to plain JSON values and then converts them to the handler's type
with msgspec's *lax* rules, made for query strings: ``{"quantity": "1"}`` became 1 and
``"true"`` became True. A JSON client sends JSON types, and a string where a number belongs
is a bug worth a clear 400 naming the field, not a guess. :class:`StrictRequest` decodes the
body with the handler's own type in msgspec's strict mode (one pass, no intermediate dict);
the already-typed value then passes Litestar's conversion unchanged.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import msgspec
from litestar import Request
from litestar.exceptions import SerializationException, ValidationException
from litestar.handlers import BaseRouteHandler
from litestar.serialization.msgspec_hooks import default_deserializer
from litestar.types import Empty

#: The handler argument Litestar fills from the request body.
_BODY_ARGUMENT = "data"
_decoders: dict[int, msgspec.json.Decoder[Any] | None] = {}


def _decoder_for(handler: BaseRouteHandler) -> msgspec.json.Decoder[Any] | None:
    """A strict decoder for the handler's JSON body type (``None``: it takes no JSON body)."""
    key = id(handler)
    if key not in _decoders:
        field = handler.parsed_fn_signature.parameters.get(_BODY_ARGUMENT)
        _decoders[key] = (
            msgspec.json.Decoder(
                field.raw,
                strict=True,
                dec_hook=partial(
                    default_deserializer, type_decoders=handler.resolve_type_decoders()
                ),
            )
            if field is not None
            else None
        )
    return _decoders[key]


class StrictRequest(Request[Any, Any, Any]):
    async def json(self) -> Any:
        if self._json is Empty and self._connection_state.json is Empty:
            decoder = _decoder_for(self.route_handler)
            body = await self.body()
            if decoder is not None and body:
                try:
                    value = decoder.decode(body)
                except msgspec.ValidationError as error:
                    raise ValidationException(
                        detail=f"Validation failed for {self.method} {self.url.path}",
                        extra=[{"message": str(error), "key": _BODY_ARGUMENT, "source": "body"}],
                    ) from error
                except msgspec.DecodeError as error:
                    raise SerializationException(str(error)) from error
                self._json = self._connection_state.json = value
        return await super().json()
