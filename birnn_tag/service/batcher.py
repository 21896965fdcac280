"""Micro-batching: requests that arrive together are run together.

A worker takes the first waiting request, then keeps collecting until the batch holds
``max_batch`` items or ``max_wait`` seconds have passed, runs the whole batch in one call on a
single worker thread (the model is not shared between threads), and hands each request its share
of the results. Under load a batch fills at once and the wait costs nothing; a lone request waits
at most ``max_wait``. At most ``max_queue`` requests wait; more are refused (:class:`Busy`).
:meth:`MicroBatcher.stop` answers every request submitted before it, then stops the worker.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any


class Busy(Exception):
    """Raised by :meth:`MicroBatcher.submit` when ``max_queue`` requests are waiting already, or
    while the batcher is stopping."""


class MicroBatcher:
    """Runs ``run`` (items → one result per item, in order) over the items of concurrent
    :meth:`submit` calls, batched. The worker starts with the first request on the running event
    loop (or at :meth:`start`) and can be stopped and started again."""

    def __init__(self, run: Callable[[list[Any]], Sequence[Any]], max_batch: int, max_wait: float, max_queue: int = 1024) -> None:
        self.run, self.max_batch, self.max_wait, self.max_queue = run, max_batch, max_wait, max_queue
        self.batches = 0  # batches run so far
        self.queue: asyncio.Queue | None = None
        self.executor: ThreadPoolExecutor | None = None
        self.worker: asyncio.Task | None = None
        self.stopping = False

    def start(self) -> None:
        """Start the worker on the running event loop, with a queue and a model thread of its own."""
        if self.worker is not None and not self.worker.done():
            return
        self.queue = asyncio.Queue(maxsize=self.max_queue)
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="birnn-tag-model")
        self.worker = asyncio.get_running_loop().create_task(self._work())

    async def stop(self) -> None:
        """Answer every request submitted so far (requests submitted meanwhile are refused with
        :class:`Busy`), then stop the worker."""
        if self.worker is None:
            return
        self.stopping = True
        try:
            await self.queue.join()  # every job taken from the queue is marked done once answered
        finally:
            self.worker.cancel()  # idle now: waiting for a job that will not come
            try:
                await self.worker
            except asyncio.CancelledError:
                pass
            self.executor.shutdown(wait=False, cancel_futures=True)
            self.queue = self.executor = self.worker = None
            self.stopping = False

    async def submit(self, items: list[Any]) -> list[Any]:
        """The results for ``items``, once the batch they join has run."""
        if self.stopping:
            raise Busy("the service is stopping")
        self.start()
        future = asyncio.get_running_loop().create_future()
        try:
            self.queue.put_nowait((items, future))
        except asyncio.QueueFull:
            raise Busy(f"{self.max_queue} requests are waiting already") from None
        return await future

    async def _work(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            jobs = [await self.queue.get()]
            try:
                count, deadline = len(jobs[0][0]), loop.time() + self.max_wait
                while count < self.max_batch and (left := deadline - loop.time()) > 0:
                    try:
                        job = await asyncio.wait_for(self.queue.get(), left)
                    except asyncio.TimeoutError:
                        break
                    jobs.append(job)
                    count += len(job[0])
                # A client that went away (or was cut at shutdown) leaves a cancelled future: skip its items.
                await self._run(loop, [job for job in jobs if not job[1].done()])
            finally:
                for _ in jobs:
                    self.queue.task_done()

    async def _run(self, loop: asyncio.AbstractEventLoop, jobs: list[tuple[list[Any], asyncio.Future]]) -> None:
        if not jobs:
            return
        items = [item for job_items, _ in jobs for item in job_items]
        try:
            results = await loop.run_in_executor(self.executor, self.run, items)
        except Exception as error:
            if len(jobs) > 1:  # one request's items may be the cause: the others should not fail with it
                for job in jobs:
                    await self._run(loop, [job])
                return
            if not jobs[0][1].done():
                jobs[0][1].set_exception(error)
            return
        self.batches += 1
        start = 0
        for job_items, future in jobs:
            if not future.done():  # a client that went away leaves a cancelled future
                future.set_result(list(results[start : start + len(job_items)]))
            start += len(job_items)
