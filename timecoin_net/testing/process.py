"""NodeProcess: one ``timecoin node run`` child process, for tests that need real processes.

Theory of operation
-------------------
``async with NodeProcess(datadir) as node:`` starts ``python -m timecoin_net node run
--datadir DIR`` (plus any extra arguments), reads its stderr line by line in a task of
its own, and returns once the node printed its ready line (``timecoin: node ready, p2p
HOST:PORT``), so the test proceeds on a condition, never on a sleep. Every line is kept
(the last :data:`MAX_LOG_LINES`) and, when ``log_path`` is given, appended to a file, so a
failing test can show what the node said.

Leaving the block always cleans up: a node still running gets SIGTERM, and SIGKILL if
it has not exited within ``stop_timeout``; the process is reaped and its pipes closed
whatever happened inside the block. Tests that care how a node ends call
:meth:`NodeProcess.stop` (SIGTERM, returns the exit code), :meth:`NodeProcess.kill`
(SIGKILL) or :meth:`NodeProcess.send_signal` themselves.
"""

from __future__ import annotations

import collections
import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Final, Self

import anyio
import anyio.abc
from anyio.streams.buffered import BufferedByteReceiveStream

from timecoin_core.errors import TimecoinError

__all__ = ["MAX_LOG_LINES", "READY_PATTERN", "NodeProcess", "NodeProcessError"]

MAX_LOG_LINES: Final = 10_000
READY_PATTERN: Final = re.compile(r"timecoin: node ready, p2p (?P<host>\S+):(?P<port>\d+)$")
"""The line ``timecoin node run`` prints on stderr once its p2p listener is bound."""

_MAX_LINE: Final = 1 << 20


class NodeProcessError(TimecoinError):
    """The node process did not become ready, exited unexpectedly, or a wait timed out.

    The message ends with the node's last lines of output.
    """


class NodeProcess:
    """A node running in a child process; use as ``async with`` (see the module docstring).

    ``datadir`` is the node's datadir; ``args`` are extra ``node run`` arguments (such
    as ``["--peer", "127.0.0.1:24303"]``); ``ready_timeout`` bounds the wait for the
    ready line, ``stop_timeout`` the wait after SIGTERM before SIGKILL on cleanup.
    """

    def __init__(
        self,
        datadir: str | os.PathLike[str],
        *,
        args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        log_path: str | os.PathLike[str] | None = None,
        ready_timeout: float = 60.0,
        stop_timeout: float = 15.0,
    ) -> None:
        self.datadir = Path(datadir)
        self.args = tuple(args)
        self.env = dict(os.environ if env is None else env, PYTHONUNBUFFERED="1")
        self.log_path = None if log_path is None else Path(log_path)
        self.ready_timeout = ready_timeout
        self.stop_timeout = stop_timeout
        self.lines: collections.deque[str] = collections.deque(maxlen=MAX_LOG_LINES)
        self.address: tuple[str, int] | None = None
        self._process: anyio.abc.Process | None = None
        self._group: anyio.abc.TaskGroup | None = None
        self._changed = anyio.Event()
        self._eof = False
        self._line_count = 0
        self._log: IO[str] | None = None

    # -- lifecycle ----------------------------------------------------------------------

    @property
    def command(self) -> list[str]:
        """The command line the child runs."""
        return [sys.executable, "-m", "timecoin_net", "node", "run", "--datadir", str(self.datadir), *self.args]

    @property
    def pid(self) -> int:
        """The child's process id."""
        return self._require().pid

    @property
    def returncode(self) -> int | None:
        """The exit code once the child exited (negative: killed by that signal), else None."""
        return None if self._process is None else self._process.returncode

    async def __aenter__(self) -> Self:
        if self._process is not None:
            raise NodeProcessError("this NodeProcess was started already; make a new one")
        group = anyio.create_task_group()
        await group.__aenter__()
        self._group = group
        try:
            if self.log_path is not None:
                self._log = open(self.log_path, "a", encoding="utf-8")  # noqa: SIM115 - closed on exit
            self._process = await anyio.open_process(
                self.command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=self.env
            )
            group.start_soon(self._read_stderr)
            line = await self.wait_for_line(lambda text: READY_PATTERN.search(text) is not None, timeout=self.ready_timeout)
            match = READY_PATTERN.search(line)
            assert match is not None
            self.address = (match["host"], int(match["port"]))
        except BaseException:
            await self._cleanup()
            await group.__aexit__(None, None, None)
            raise
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool | None:
        await self._cleanup()
        assert self._group is not None
        # The body's own exception propagates as it is, not wrapped in a group.
        await self._group.__aexit__(None, None, None)
        return None

    async def _cleanup(self) -> None:
        with anyio.CancelScope(shield=True):
            process = self._process
            if process is not None:
                if process.returncode is None:
                    await self._terminate(process, self.stop_timeout)
                else:
                    await process.wait()
                # The reader ends at end of stream once the child is gone.
                with anyio.move_on_after(5):
                    while not self._eof:
                        await self._next_change()
                await process.aclose()
            if self._group is not None:
                self._group.cancel_scope.cancel()
            if self._log is not None:
                self._log.close()
                self._log = None

    @staticmethod
    async def _terminate(process: anyio.abc.Process, timeout: float) -> int:
        with anyio.move_on_after(timeout):
            process.terminate()
            return await process.wait()
        process.kill()
        return await process.wait()

    def _require(self) -> anyio.abc.Process:
        if self._process is None:
            raise NodeProcessError("the node process is not started (use: async with NodeProcess(...))")
        return self._process

    # -- control ------------------------------------------------------------------------

    def send_signal(self, signum: int) -> None:
        """Send ``signum`` to the child (a no-op once it exited)."""
        process = self._require()
        if process.returncode is None:
            process.send_signal(signal.Signals(signum))

    async def stop(self, timeout: float | None = None) -> int:
        """SIGTERM, then wait for the exit; its code. :class:`NodeProcessError` after ``timeout`` (default ``stop_timeout``)."""
        process = self._require()
        if process.returncode is None:
            process.terminate()
        return await self.wait(self.stop_timeout if timeout is None else timeout)

    async def kill(self) -> int:
        """SIGKILL and wait; the exit code (``-9``)."""
        process = self._require()
        if process.returncode is None:
            process.kill()
        return await process.wait()

    async def wait(self, timeout: float) -> int:
        """Wait up to ``timeout`` seconds for the child to exit; its code, or :class:`NodeProcessError`."""
        process = self._require()
        with anyio.move_on_after(timeout):
            return await process.wait()
        raise NodeProcessError(f"node {self.datadir} did not exit within {timeout} s{self._tail()}")

    # -- output -------------------------------------------------------------------------

    async def wait_for_line(self, match: str | Callable[[str], bool], *, timeout: float = 30.0, start: int = 0) -> str:
        """The first output line from number ``start`` on that contains ``match`` (or satisfies it).

        Raises :class:`NodeProcessError` if the child's output ends first or after ``timeout`` seconds.
        """
        test = (lambda text: match in text) if isinstance(match, str) else match
        position = start
        with anyio.move_on_after(timeout):
            while True:
                lines = list(self.lines)
                # Lines beyond the deque's memory are gone; count from what is kept.
                offset = max(0, self._line_count - len(lines))
                for index in range(max(position, offset), self._line_count):
                    if test(lines[index - offset]):
                        return lines[index - offset]
                position = self._line_count
                if self._eof:
                    # The output ends a moment before the exit is reaped: wait for the code.
                    with anyio.move_on_after(5):
                        await self._require().wait()
                    code = self.returncode
                    raise NodeProcessError(f"node {self.datadir} ended its output (exit code {code}) before {match!r}{self._tail()}")
                await self._next_change()
        raise NodeProcessError(f"node {self.datadir}: no line matching {match!r} within {timeout} s{self._tail()}")

    @property
    def line_count(self) -> int:
        """How many lines the child has written so far (a ``start`` for :meth:`wait_for_line`)."""
        return self._line_count

    async def _next_change(self) -> None:
        await self._changed.wait()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = anyio.Event()

    async def _read_stderr(self) -> None:
        process = self._require()
        assert process.stderr is not None
        reader = BufferedByteReceiveStream(process.stderr)
        try:
            while True:
                try:
                    raw = await reader.receive_until(b"\n", _MAX_LINE)
                except anyio.IncompleteRead:
                    raw = reader.buffer
                    if raw:
                        self._add_line(raw)
                    break
                except (anyio.EndOfStream, anyio.ClosedResourceError, anyio.BrokenResourceError):
                    break
                except anyio.DelimiterNotFound:
                    raw = await reader.receive_exactly(len(reader.buffer)) if reader.buffer else b""
                self._add_line(raw)
        finally:
            self._eof = True
            self._notify()

    def _add_line(self, raw: bytes) -> None:
        text = raw.decode("utf-8", "replace").rstrip("\r")
        self.lines.append(text)
        self._line_count += 1
        if self._log is not None:
            self._log.write(text + "\n")
            self._log.flush()
        self._notify()

    def _tail(self, count: int = 20) -> str:
        tail = list(self.lines)[-count:]
        return ("; last output:\n  " + "\n  ".join(tail)) if tail else "; no output"

    def __repr__(self) -> str:
        state = "not started" if self._process is None else f"pid {self._process.pid}, returncode {self.returncode}"
        return f"NodeProcess({str(self.datadir)!r}, {state})"


def free_base_port(count: int, *, attempts: int = 100) -> int:
    """A port ``p`` such that ``p .. p + count - 1`` are free on 127.0.0.1 right now (for
    ``timecoin devnet up --base-port``, which takes ``count`` consecutive ports).

    Free now is not free later: another process may take one before the node binds it,
    so a test that gets a busy-port error may simply ask again.

    :raises NodeProcessError: no such run was found in ``attempts`` tries.
    """
    for _ in range(attempts):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base = int(probe.getsockname()[1])
        if base + count > 65535:
            continue
        try:
            for port in range(base, base + count):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", port))
        except OSError:
            continue
        return base
    raise NodeProcessError(f"no run of {count} free ports on 127.0.0.1 in {attempts} tries")
