"""Reload the policy when its file changes, without a signal (Kubernetes sends none).

Polls every ``interval`` seconds. A change is any difference in the file's resolved
path, device, inode, size or mtime, so it catches an edit in place as well as the
atomic swap kubelet does for a ConfigMap volume, where the watched path is a symlink
chain (``policy.toml -> ..data/policy.toml``, ``..data -> ..2026_11_29_…``) whose
``..data`` link is renamed to point at a new directory. A missing file is logged and
the policy in force stays; an invalid file is the reloader's business (it keeps the
old policy). No new dependency: ``os.stat`` and ``os.path.realpath``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import pathlib
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)

Signature = tuple[str, int, int, int, int]


def signature(path: pathlib.Path) -> Signature | None:
    """What identifies the file's current content, following symlinks; None if missing."""
    try:
        real = os.path.realpath(path)
        st = os.stat(real)
    except OSError:
        return None
    return (real, st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


class PolicyWatcher:
    """Calls ``reload()`` whenever the file at ``path`` changes."""

    def __init__(
        self,
        path: pathlib.Path,
        interval: float,
        reload: Callable[[], Awaitable[object]],
    ) -> None:
        self._path = path
        self._interval = interval
        self._reload = reload
        self._last = signature(path)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start polling in the background."""
        self._task = asyncio.get_running_loop().create_task(self._run(), name="policy-watch")

    async def stop(self) -> None:
        """Stop polling."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        missing_logged = False
        while True:
            await asyncio.sleep(self._interval)
            current = await asyncio.to_thread(signature, self._path)
            if current is None:
                if not missing_logged:
                    log.error("policy file %s is missing; the policy in force stays", self._path)
                    missing_logged = True
                continue
            missing_logged = False
            if current == self._last:
                continue
            self._last = current
            log.info("policy file %s changed (now %s): reloading", self._path, current[0])
            try:
                await self._reload()
            except Exception:
                log.exception("policy reload after a file change failed")
