"""Event pictures: sniffed not trusted, re-encoded, size- and pixel-limited; a refused upload
stores nothing. On both engines."""

from __future__ import annotations

import io
import struct
import zlib
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from boxoffice.core.clock import ManualClock
from boxoffice.platform import Platform
from tests import factories
from tests.identity.helpers import auth, organization, sign_up


@pytest.fixture
def platform(make_platform: factories.MakePlatform) -> Platform:
    return make_platform(config=factories.PLUGINS_TOML, entry_points=True)


def png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 60)).save(out, format="PNG")
    return out.getvalue()


def png_bomb(width: int = 20_000, height: int = 20_000) -> bytes:
    """A tiny, valid PNG whose canvas is 400 megapixels of zeros: a decompression bomb."""
    raw = zlib.compress(b"\x00" * ((width + 1) * 64), 9)  # the first rows; enough to open

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


def stored_files(platform: Platform) -> list[Path]:
    root = Path(platform.settings.data_dir) / "media"
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


async def setup(client: Any, platform: Platform, clock: ManualClock) -> tuple[Any, str]:
    tokens = await sign_up(client, platform, "pics@example.org")
    org_id = (await organization(client, tokens, "pics"))["id"]
    starts = clock.now() + timedelta(days=9)
    event = (
        await client.post(
            f"/api/v1/organizations/{org_id}/events",
            headers=auth(tokens),
            json={
                "slug": "show",
                "title": "Show",
                "timezone": "UTC",
                "starts_at": starts.isoformat(),
                "ends_at": (starts + timedelta(hours=1)).isoformat(),
                "region": "eu",
                "currency": "EUR",
            },
        )
    ).json()
    return tokens, f"/api/v1/organizations/{org_id}/events/{event['id']}"


async def test_a_png_named_jpg_is_sniffed_reencoded_and_served(
    platform: Platform, make_client: Any, clock: ManualClock
) -> None:
    async with make_client(platform) as client:
        tokens, base = await setup(client, platform, clock)
        uploaded = await client.post(
            f"{base}/images",
            headers=auth(tokens),
            files={"data": ("holiday.jpg", png(3000, 1500), "image/jpeg")},
        )
        assert uploaded.status_code == 201, uploaded.text
        image = uploaded.json()
        assert (image["width"], image["height"]) == (3000, 1500)
        assert set(image["urls"]) == {"full", "thumb"}
        path = image["urls"]["thumb"].split("tickets.example.test")[1]
        served = await client.get(path)
        assert served.status_code == 200
        assert served.headers["cache-control"].endswith("immutable")
        thumb = Image.open(io.BytesIO(served.content))
        assert (thumb.format, thumb.size) == ("WEBP", (400, 200))
        assert len(stored_files(platform)) == 2
        detail = (await client.get(base, headers=auth(tokens))).json()
        assert [i["id"] for i in detail["images"]] == [image["id"]]
        removed = await client.delete(f"{base}/images/{image['id']}", headers=auth(tokens))
        assert removed.status_code == 204
        assert stored_files(platform) == []
        assert (await client.get(path)).status_code == 404


@pytest.mark.parametrize(
    ("name", "payload", "status"),
    [
        ("bomb.png", png_bomb(), 422),
        ("notes.png", b"hello, I am text", 422),
        ("empty.png", b"", 422),
        ("doc.png", b"%PDF-1.4\n" + b"0" * 100, 422),
        ("huge.jpg", b"\xff\xd8\xff" + b"0" * (50 * 1024 * 1024), 413),
    ],
)
async def test_refused_uploads_store_nothing(
    platform: Platform,
    make_client: Any,
    clock: ManualClock,
    name: str,
    payload: bytes,
    status: int,
) -> None:
    async with make_client(platform) as client:
        tokens, base = await setup(client, platform, clock)
        response = await client.post(
            f"{base}/images", headers=auth(tokens), files={"data": (name, payload, "image/png")}
        )
        assert response.status_code == status, response.text[:300]
        assert response.headers["content-type"].startswith("application/problem+json")
        assert stored_files(platform) == []
        detail = (await client.get(base, headers=auth(tokens))).json()
        assert detail["images"] == []


async def test_media_keys_cannot_escape_the_store(platform: Platform, make_client: Any) -> None:
    async with make_client(platform) as client:
        for key in ("../../etc/passwd", "..%2F..%2Fsecret.key", "events/../secret.key"):
            response = await client.get(f"/media/{key}")
            assert response.status_code == 404
