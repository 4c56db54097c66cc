"""Unit of work: one transaction, the repositories that share it; rolls back unless committed."""

from __future__ import annotations

from types import TracebackType

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from case_core.db.repositories import (
    CallRepository,
    CaseRepository,
    CitizenRepository,
    DirectoryRepository,
    IvrSessionRepository,
    UserRepository,
)


class UnitOfWork:
    """``async with uow: ...; await uow.commit()``."""

    session: AsyncSession

    def __init__(self, sessionmaker: async_sessionmaker) -> None:
        self._sessionmaker = sessionmaker

    async def __aenter__(self) -> UnitOfWork:
        self.session = self._sessionmaker()
        self.cases = CaseRepository(self.session)
        self.citizens = CitizenRepository(self.session)
        self.directory = DirectoryRepository(self.session)
        self.calls = CallRepository(self.session)
        self.ivr = IvrSessionRepository(self.session)
        self.users = UserRepository(self.session)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # close() rolls back whatever was not committed but, unlike rollback(), leaves the
        # loaded rows readable after the block.
        await self.session.close()

    async def commit(self) -> None:
        await self.session.commit()

    async def rollback(self) -> None:
        await self.session.rollback()


class UnitOfWorkFactory:
    """Callable that makes a fresh UnitOfWork; services receive this."""

    def __init__(self, sessionmaker: async_sessionmaker) -> None:
        self.sessionmaker = sessionmaker

    def __call__(self) -> UnitOfWork:
        return UnitOfWork(self.sessionmaker)
