"""Micro-batching: requests that arrive together are run together.

A worker takes the first waiting request, then keeps collecting until the batch holds
``max_batch`` items or ``max_wait`` seconds have passed, runs the whole batch in one call on a
single worker thread (the model is not shared between threads), and hands each request its share
of the results. Under load a batch fills at once and the wait costs nothing; a lone request waits
at most ``max_wait``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any


class MicroBatcher:
    """Runs ``run`` (items → one result per item, in order) over the items of concurrent
    :meth:`submit` calls, batched."""

    def __init__(self, run: Callable[[list[Any]], Sequence[Any]], max_batch: int, max_wait: float) -> None:
        self.run, self.max_batch, self.max_wait = run, max_batch, max_wait
        self.queue: asyncio.Queue[tuple[list[Any], asyncio.Future]] = asyncio.Queue()
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="birnn-tag-model")
        self.batches = 0  # batches run so far (the service's tests and load test read it)
        self.worker: asyncio.Task | None = None

    def start(self) -> None:
        """Start the worker on the running event loop."""
        self.worker = asyncio.get_running_loop().create_task(self._work())

    async def stop(self) -> None:
        """Stop the worker (requests still queued fail) and its thread."""
        if self.worker is not None:
            self.worker.cancel()
            try:
                await self.worker
            except asyncio.CancelledError:
                pass
        self.executor.shutdown(wait=True)

    async def submit(self, items: list[Any]) -> list[Any]:
        """The results for ``items``, once the batch they join has run."""
        future = asyncio.get_running_loop().create_future()
        await self.queue.put((items, future))
        return await future

    async def _work(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            jobs = [await self.queue.get()]
            count, deadline = len(jobs[0][0]), loop.time() + self.max_wait
            while count < self.max_batch and (left := deadline - loop.time()) > 0:
                try:
                    job = await asyncio.wait_for(self.queue.get(), left)
                except asyncio.TimeoutError:
                    break
                jobs.append(job)
                count += len(job[0])
            items = [item for job_items, _ in jobs for item in job_items]
            try:
                results = await loop.run_in_executor(self.executor, self.run, items)
            except Exception as error:  # the requests fail; the worker (and the service) go on
                for _, future in jobs:
                    if not future.done():
                        future.set_exception(error)
                continue
            self.batches += 1
            start = 0
            for job_items, future in jobs:
                if not future.done():  # a client that went away leaves a cancelled future
                    future.set_result(list(results[start : start + len(job_items)]))
                start += len(job_items)
