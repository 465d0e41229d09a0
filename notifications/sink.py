"""A local SMTP sink on loopback (aiosmtpd) keeping received mails in memory: the demo shows them
at /demo/mail, and the tests deliver to it. Never for production: it accepts anything."""

from __future__ import annotations

import asyncio
import socket
import threading
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage

from aiosmtpd.controller import Controller


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage

    def text(self) -> str:
        part = self.message.get_body(preferencelist=("plain",))
        return part.get_content() if part is not None else ""

    def html(self) -> str:
        part = self.message.get_body(preferencelist=("html",))
        return part.get_content() if part is not None else ""


@dataclass
class SinkHandler:
    """Stores each mail; `reply` other than None answers every DATA with it instead (e.g. "451
    4.3.0 try later", "554 5.7.1 refused"); `delay_s` sleeps before answering (a slow server)."""

    messages: list[Received] = field(default_factory=list)
    reply: str | None = None
    delay_s: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server, session, envelope) -> str:
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if self.reply is not None:
            return self.reply
        message = message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
        with self.lock:
            self.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message))  # type: ignore[arg-type]
        return "250 OK"

    def received(self) -> list[Received]:
        with self.lock:
            return list(self.messages)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def start_sink(
    handler: SinkHandler | None = None, *, host: str = "127.0.0.1", port: int | None = None
) -> Controller:
    """Start the sink in its own thread; `controller.stop()` ends it, `controller.handler` holds
    the mails, `controller.port` where it listens."""
    controller = Controller(handler or SinkHandler(), hostname=host, port=port or free_port(host))
    controller.start()
    return controller
