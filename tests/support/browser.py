"""Headless Chromium for page tests (Debian's chromium and chromedriver; nothing downloaded),
and a gateway that can be switched off and on at one address, as a browser sees an outage."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--lang=ko-KR",
    "--window-size=1100,1000",
)


def chromium_installed() -> bool:
    return bool(shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER))


@contextmanager
def chromium(profile: Path) -> Iterator[webdriver.Chrome]:
    """A fresh profile per test: its localStorage starts empty. Selenium must not fetch
    drivers (set SE_OFFLINE=true in the environment)."""
    options = Options()
    options.binary_location = CHROMIUM
    for flag in (*FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def wait_until(
    driver: webdriver.Chrome,
    condition: Callable[[webdriver.Chrome], Any],
    what: str,
    limit: float = 120,
) -> Any:
    """The condition's first truthy value; the deadline is generous (a busy 2-core machine)."""
    return WebDriverWait(driver, limit, poll_frequency=0.1).until(condition, f"waited for {what}")


class SwitchableProxy:
    """A TCP proxy on a fixed loopback port in front of the gateway. `down()` stops listening
    and drops every open connection (the browser sees connection refused), `hang()` takes
    connections and answers nothing, `up()` serves on the same port again: the gateway going
    away (or getting stuck) and coming back, at the browser's address."""

    def __init__(self, upstream_port: int) -> None:
        self._upstream = upstream_port
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()
        self._hanging = False
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._thread.start()
        self.up()

    def up(self) -> None:
        self._hanging = False
        if self._server is None:
            self._call(self._listen())

    def hang(self) -> None:
        """Keep listening but answer nothing (a gateway stuck, not gone); the connections
        open so far are dropped, so none is still served behind the stuck ones."""
        self._hanging = True
        self._call(self._drop())

    def down(self) -> None:
        self._call(self._close())

    def stop(self) -> None:
        self._call(self._shutdown())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    def _call(self, coroutine: Any) -> None:
        asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(10)

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(
            self._handle, "127.0.0.1", self.port, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def _close(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
        await self._drop()
        if server is not None:
            await server.wait_closed()

    async def _drop(self) -> None:
        writers = list(self._open)
        for writer in writers:
            writer.close()
        for writer in writers:
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _shutdown(self) -> None:
        """Close everything and let every connection's task end, so nothing is left open."""
        await self._close()
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._open.add(writer)
        try:
            if self._hanging:
                await reader.read()  # until the client gives up or down() closes it
                return
            try:
                up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self._upstream)
            except OSError:
                return
            self._open.add(up_writer)
            try:
                await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
            finally:
                self._open.discard(up_writer)
                up_writer.close()
                with contextlib.suppress(Exception):
                    await up_writer.wait_closed()
        finally:
            self._open.discard(writer)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()


@contextmanager
def switchable_proxy(upstream_port: int) -> Iterator[SwitchableProxy]:
    proxy = SwitchableProxy(upstream_port)
    proxy.start()
    try:
        yield proxy
    finally:
        proxy.stop()
