"""In-memory storage of users, messages and deliveries."""

from __future__ import annotations

from .models import Delivery, Message, User


class InMemoryStore:
    """Keeps everything in dicts and lists; ids are handed out in order from 1."""

    def __init__(self) -> None:
        self._users: dict[int, User] = {}
        self._messages: dict[int, Message] = {}
        self._deliveries: list[Delivery] = []

    def add_user(self, name: str, email: str) -> User:
        user = User(len(self._users) + 1, name, email)
        self._users[user.id] = user
        return user

    def add_message(self, subject: str, body: str) -> Message:
        message = Message(len(self._messages) + 1, subject, body)
        self._messages[message.id] = message
        return message

    def add_delivery(self, delivery: Delivery) -> None:
        self._deliveries.append(delivery)

    def users(self) -> list[User]:
        return list(self._users.values())

    def messages(self) -> list[Message]:
        return list(self._messages.values())

    def deliveries(self) -> list[Delivery]:
        return list(self._deliveries)
