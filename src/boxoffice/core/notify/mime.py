"""A message as an e-mail (RFC 5322, MIME): what every e-mail channel sends, whether over
SMTP or as a provider's raw message (SES)."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import formataddr, formatdate

from boxoffice.core.notify.channel import Message


def email_message(message: Message, *, from_address: str, from_name: str = "") -> EmailMessage:
    """The plain-text part, the HTML alternative when there is one, the attachments, and
    the message's extra headers. ``Message-ID`` is made from the platform's message id, so
    a retried delivery is recognisable as the same message."""
    email = EmailMessage()
    email["From"] = formataddr((from_name, from_address))
    email["To"] = message.to
    email["Subject"] = message.subject
    email["Date"] = formatdate(localtime=False)
    domain = from_address.rpartition("@")[2] or "boxoffice.invalid"
    email["Message-ID"] = f"<{message.message_id}@{domain}>"
    for name, value in message.headers.items():
        email[name] = value
    email.set_content(message.text)
    if message.html:
        email.add_alternative(message.html, subtype="html")
    for attachment in message.attachments:
        maintype, _, rest = attachment.content_type.partition("/")
        subtype, _, parameters = rest.partition(";")
        params = dict(p.strip().split("=", 1) for p in parameters.split(";") if "=" in p)
        email.add_attachment(
            attachment.content,
            maintype=maintype,
            subtype=subtype.strip(),
            filename=attachment.filename,
            params=params,
        )
    return email
