"""The organizer's custom questions for attendees, and checking the answers."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice.core.booking.models import Question
from boxoffice.core.booking.schemas import Answer, AttendeeIn, QuestionIn, QuestionOut
from boxoffice.core.catalog.models import Event, TicketType
from boxoffice.core.catalog.service import event_row
from boxoffice.core.clock import Clock
from boxoffice.core.errors import FieldError, ValidationFailed


async def _check(session: AsyncSession, event: Event, data: QuestionIn) -> None:
    problems: list[FieldError] = []
    if data.kind == "choice" and len(set(data.options)) < 2:
        problems.append(FieldError("options", "a choice needs at least two different options"))
    if data.kind != "choice" and data.options:
        problems.append(FieldError("options", f"a {data.kind} question has no options"))
    if data.ticket_types:
        known = set(
            await session.scalars(
                select(TicketType.id).where(
                    TicketType.event_id == event.id, TicketType.id.in_(data.ticket_types)
                )
            )
        )
        unknown = [str(t) for t in data.ticket_types if t not in known]
        if unknown:
            problems.append(FieldError("ticket_types", f"not of this event: {', '.join(unknown)}"))
    if problems:
        raise ValidationFailed("the question has invalid fields", errors=problems)


def _apply(question: Question, data: QuestionIn) -> None:
    question.label, question.kind, question.required = data.label, data.kind, data.required
    question.options = list(dict.fromkeys(data.options))
    question.ticket_types = [str(t) for t in dict.fromkeys(data.ticket_types)]
    question.position = data.position


def question_out(question: Question) -> QuestionOut:
    return QuestionOut(
        id=question.id,
        label=question.label,
        kind=question.kind,
        options=list(question.options),
        required=question.required,
        ticket_types=[uuid.UUID(t) for t in question.ticket_types],
        position=question.position,
    )


async def create_question(
    session: AsyncSession, clock: Clock, event: Event, data: QuestionIn
) -> Question:
    await _check(session, event, data)
    question = Question(event_id=event.id, created_at=clock.now())
    _apply(question, data)
    session.add(question)
    await session.flush()
    return question


async def get_question(session: AsyncSession, event: Event, question_id: uuid.UUID) -> Question:
    return await event_row(session, Question, question_id, event, "question")


async def update_question(
    session: AsyncSession, event: Event, question_id: uuid.UUID, data: QuestionIn
) -> Question:
    question = await get_question(session, event, question_id)
    await _check(session, event, data)
    _apply(question, data)
    return question


async def questions_of(session: AsyncSession, event_id: uuid.UUID) -> list[Question]:
    return list(
        await session.scalars(
            select(Question)
            .where(Question.event_id == event_id)
            .order_by(Question.position, Question.created_at)
        )
    )


def _answer_problem(question: QuestionLike, answer: Answer | None) -> str | None:
    if answer is None or answer == "" or answer is False:
        return "required" if question.required else None
    if question.kind == "checkbox":
        return None if isinstance(answer, bool) else "answer true or false"
    if not isinstance(answer, str):
        return "answer with text"
    if len(answer) > 2000:
        return "at most 2000 characters"
    if question.kind == "choice" and answer not in question.options:
        return f"one of: {', '.join(question.options)}"
    return None


class QuestionLike(Protocol):
    """A question as answers are checked against it: the model, or a row of ``QUESTIONS``."""

    @property
    def id(self) -> uuid.UUID: ...
    @property
    def label(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def options(self) -> list[str]: ...
    @property
    def required(self) -> bool: ...
    @property
    def ticket_types(self) -> list[str]: ...


def check_answers(
    questions: Sequence[QuestionLike], attendees: list[tuple[uuid.UUID, AttendeeIn]]
) -> list[dict[str, Answer]]:
    """Each attendee's answers, keyed by question id, for the questions of their ticket
    type; every problem is reported at once, naming the attendee and the question."""
    problems: list[FieldError] = []
    cleaned: list[dict[str, Answer]] = []
    known = {q.id for q in questions}
    for index, (ticket_type_id, attendee) in enumerate(attendees):
        answers: dict[str, Answer] = {}
        for question_id in attendee.answers:
            if question_id not in known:
                problems.append(
                    FieldError(
                        f"attendees[{index}].answers.{question_id}", "not a question of this event"
                    )
                )
        for question in questions:
            if question.ticket_types and str(ticket_type_id) not in question.ticket_types:
                continue
            answer = attendee.answers.get(question.id)
            problem = _answer_problem(question, answer)
            if problem:
                problems.append(
                    FieldError(
                        f"attendees[{index}].answers.{question.id}", f"{question.label}: {problem}"
                    )
                )
            elif answer is not None:
                answers[str(question.id)] = answer
        cleaned.append(answers)
    if problems:
        raise ValidationFailed("some answers are missing or invalid", errors=problems)
    return cleaned
