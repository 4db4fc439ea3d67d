import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest

from boxoffice.core.clock import ManualClock, SystemClock, ensure_utc
from boxoffice.core.ids import new_id
from boxoffice.logs import REDACTED, redact


def test_ids_are_uuid7_and_time_ordered() -> None:
    ids = [new_id() for _ in range(200)]
    assert all(i.version == 7 and i.variant == uuid.RFC_4122 for i in ids)
    assert len(set(ids)) == 200
    millis = [i.int >> 80 for i in ids]
    assert millis == sorted(millis)


def test_manual_clock_moves_only_when_told() -> None:
    clock = ManualClock(datetime(2030, 1, 1, tzinfo=UTC))
    assert clock.now() == clock.now()
    clock.advance(minutes=10)
    assert clock.now() == datetime(2030, 1, 1, 0, 10, tzinfo=UTC)
    clock.advance(timedelta(hours=1))
    clock.set(datetime(2031, 1, 1, 1, tzinfo=timezone(timedelta(hours=1))))
    assert clock.now() == datetime(2031, 1, 1, tzinfo=UTC)
    assert SystemClock().now().tzinfo is UTC


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        ensure_utc(datetime(2030, 1, 1))


def test_secrets_are_redacted_by_key_and_by_shape() -> None:
    data = {
        "password": "hunter2",
        "nested": {"api_key": "abc", "note": "uses " + "sk_" + "live_1234567890abcdef here"},
        "list": ["Bearer eyJhbGciOi.x.y", "plain"],
        "count": 3,
    }
    cleaned = redact(data)
    assert cleaned["password"] == REDACTED
    assert cleaned["nested"]["api_key"] == REDACTED
    assert "sk_live" not in cleaned["nested"]["note"]
    assert cleaned["list"] == [REDACTED, "plain"]
    assert cleaned["count"] == 3
