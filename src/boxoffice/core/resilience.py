"""Calls to providers (payment gateways first): a timeout on every call, retries with
exponential backoff and jitter for idempotent ones (stamina), and a circuit breaker per
provider (purgatory) whose state routing reads (an open breaker's gateway is skipped for the
next one) and ``/health/ready`` shows.

A provider's *refusal* (a :class:`~boxoffice.core.errors.BoxofficeError`: a currency it does
not take, a reference it never issued) is an answer, not a failure: it is neither retried
nor counted by the breaker. Timeouts, connection errors and the provider's own errors are.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import stamina
from opentelemetry.trace import SpanKind
from purgatory import AsyncCircuitBreakerFactory
from purgatory.domain.model import OpenedState

from boxoffice import tracing
from boxoffice.core.errors import BoxofficeError, ProviderUnavailable

T = TypeVar("T")

#: A call that takes longer has failed.
CALL_TIMEOUT_SECONDS = 20.0
#: Consecutive failures that open a provider's breaker, and how long it then stays open.
BREAKER_THRESHOLD = 5
BREAKER_RESET_SECONDS = 30
#: Tries of an idempotent call, in all.
ATTEMPTS = 3


class ProviderCalls:
    """One per platform: the breakers of its providers, named by provider id."""

    def __init__(
        self,
        *,
        timeout: float = CALL_TIMEOUT_SECONDS,
        threshold: int = BREAKER_THRESHOLD,
        reset_after: int = BREAKER_RESET_SECONDS,
        attempts: int = ATTEMPTS,
    ) -> None:
        self.timeout, self.attempts = timeout, attempts
        self._breakers = AsyncCircuitBreakerFactory(
            default_threshold=threshold,
            default_ttl=reset_after,
            exclude=[BoxofficeError, asyncio.CancelledError],
        )
        self._states: dict[str, str] = {}
        self._listeners: list[Callable[[str, str], None]] = []
        self._breakers.add_listener(self._changed)

    def on_change(self, listener: Callable[[str, str], None]) -> None:
        """Call ``listener(provider_id, state)`` when a breaker changes state (metrics)."""
        self._listeners.append(listener)

    def _changed(self, name: str, event_name: str, event: Any) -> None:
        state = getattr(event, "state", None)
        if isinstance(state, str):
            self._states[name] = state
            for listener in self._listeners:
                listener(name, state)

    def state(self, provider_id: str) -> str:
        """ "closed" (calls go through), "opened" (they fail at once) or "half-opened"."""
        return self._states.get(provider_id, "closed")

    def states(self) -> dict[str, str]:
        return dict(self._states)

    def available(self, provider_id: str) -> bool:
        """Whether routing may pick the provider (its breaker is not open)."""
        return self.state(provider_id) != "opened"

    async def call(
        self, provider_id: str, call: Callable[[], Awaitable[T]], *, idempotent: bool
    ) -> T:
        """``call()`` under the provider's breaker and the timeout; an ``idempotent`` call
        is tried up to ``attempts`` times. An open breaker raises
        :class:`~boxoffice.core.errors.ProviderUnavailable` at once."""
        if not idempotent:
            return await self._once(provider_id, call)
        unanswered: Exception | None = None
        async for attempt in stamina.retry_context(
            on=_worth_retrying,
            attempts=self.attempts,
            timeout=self.timeout * self.attempts,
            wait_initial=0.2,
            wait_max=2.0,
        ):
            with attempt:
                try:
                    return await self._once(provider_id, call)
                except ProviderUnavailable:
                    # The breaker opened during these tries: an earlier try got no answer,
                    # so the outcome is unknown (not "refused"), whatever the breaker says.
                    if unanswered is not None:
                        raise unanswered from None
                    raise
                except BoxofficeError:
                    raise
                except Exception as error:
                    unanswered = error
                    raise
        raise AssertionError("unreachable: the last attempt raises")  # pragma: no cover

    async def _once(self, provider_id: str, call: Callable[[], Awaitable[T]]) -> T:
        breaker = await self._breakers.get_breaker(provider_id)
        try:
            with tracing.span(
                f"provider {provider_id}",
                kind=SpanKind.CLIENT,
                attributes={"boxoffice.provider": provider_id},
            ):
                async with breaker, asyncio.timeout(self.timeout):
                    return await call()
        except OpenedState as error:
            raise ProviderUnavailable(
                f"{provider_id} is failing; its calls are paused for a while",
                extra={"provider": provider_id, "retry_after": BREAKER_RESET_SECONDS},
            ) from error


def _worth_retrying(error: Exception) -> bool:
    return not isinstance(error, BoxofficeError | OpenedState)
