"""The ``log`` notification channel: writes each message to a file instead of sending it.

For development and demos: every message becomes ``<directory>/<message_id>.json``, so a
redelivered message overwrites itself instead of appearing twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import anyio
import msgspec

from boxoffice.core.hookspecs import PluginContext, hookimpl
from boxoffice.core.notify.channel import DeliveryResult, Message, undeliverable_reason
from boxoffice.core.providers import HealthState, ProviderHealth


class LogOptions(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    #: Where messages go; relative paths are below the data directory.
    directory: str = "outbox"
    kinds: tuple[str, ...] = ("email", "sms")


class LogChannel:
    id = "log"

    def __init__(self, directory: Path, kinds: Sequence[str] = ("email", "sms")) -> None:
        self.directory = directory
        self.kinds = frozenset(kinds)

    async def send(self, message: Message) -> DeliveryResult:
        safe_name = "".join(c for c in message.message_id if c.isalnum() or c in "-_")
        problem = undeliverable_reason(message)
        if not safe_name:
            problem = "message_id has no usable characters"
        if problem:
            return DeliveryResult(delivered=False, permanent_failure=True, detail=problem)
        target = anyio.Path(self.directory) / f"{safe_name}.json"
        await target.parent.mkdir(parents=True, exist_ok=True)
        await target.write_bytes(msgspec.json.format(msgspec.json.encode(message)))
        return DeliveryResult(delivered=True, provider_reference=str(target))

    async def health(self) -> ProviderHealth:
        return ProviderHealth(HealthState.UP, detail=str(self.directory))


@hookimpl
def register_notification_channels(context: PluginContext) -> Sequence[LogChannel]:
    options = context.options("log", LogOptions)
    directory = Path(options.directory)
    if not directory.is_absolute():
        directory = context.data_dir / directory
    return [LogChannel(directory, options.kinds)]
