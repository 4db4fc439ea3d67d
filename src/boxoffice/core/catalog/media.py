"""Event pictures: processed off the event loop, stored through the media store."""

from __future__ import annotations

import uuid

import anyio
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice.core.catalog.models import Event, EventImage
from boxoffice.core.catalog.schemas import ImageOut
from boxoffice.core.clock import Clock
from boxoffice.core.errors import NotFound, RuleViolated
from boxoffice.core.media.images import process_image
from boxoffice.core.media.store import MediaStore

MAX_IMAGES_PER_EVENT = 12


def image_out(image: EventImage, store: MediaStore) -> ImageOut:
    return ImageOut(
        id=image.id,
        width=image.width,
        height=image.height,
        position=image.position,
        urls={name: store.url(key) for name, key in image.keys.items()},
    )


async def add_event_image(
    session: AsyncSession, clock: Clock, event: Event, data: bytes, store: MediaStore
) -> EventImage:
    count = int(
        await session.scalar(
            select(func.count()).select_from(EventImage).where(EventImage.event_id == event.id)
        )
        or 0
    )
    if count >= MAX_IMAGES_PER_EVENT:
        raise RuleViolated(f"an event has at most {MAX_IMAGES_PER_EVENT} pictures")
    processed = await anyio.to_thread.run_sync(process_image, data)  # CPU-bound: off the loop
    keys = {
        r.name: f"events/{event.id.hex}/{processed.digest}-{r.name}.webp"
        for r in processed.renditions
    }
    for rendition in processed.renditions:
        await store.put(keys[rendition.name], rendition.data, "image/webp")
    image = EventImage(
        event_id=event.id,
        keys=keys,
        width=processed.width,
        height=processed.height,
        position=count,
        created_at=clock.now(),
    )
    session.add(image)
    await session.flush()
    return image


async def remove_event_image(
    session: AsyncSession, event: Event, image_id: uuid.UUID, store: MediaStore
) -> None:
    image = await session.get(EventImage, image_id)
    if image is None or image.event_id != event.id:
        raise NotFound(f"no picture {image_id} in this event")
    await session.delete(image)
    await session.flush()
    for key in image.keys.values():
        await store.delete(key)


async def images_of(
    session: AsyncSession, event_id: uuid.UUID, store: MediaStore
) -> list[ImageOut]:
    images = await session.scalars(
        select(EventImage)
        .where(EventImage.event_id == event_id)
        .order_by(EventImage.position, EventImage.created_at)
    )
    return [image_out(image, store) for image in images]
