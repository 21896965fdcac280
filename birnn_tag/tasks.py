"""The task registry: each task's steps (:class:`~birnn_tag.contracts.Task`) by the name a
config's ``task:`` gives. The one module that knows both tasks: it hands the tagging task the
cloze task's loader of a trained language model (``model.lm_embeddings``)."""

from __future__ import annotations

from birnn_tag.cloze.task import ClozeTask
from birnn_tag.config import Config
from birnn_tag.contracts import Task
from birnn_tag.tagging.task import TaggingTask

_CLOZE = ClozeTask()
TASKS: dict[str, Task] = {"tagging": TaggingTask(language_model=_CLOZE.language_model), "cloze": _CLOZE}


def task_for(config: Config) -> Task:
    """The task named by ``config.task``."""
    return TASKS[config.task]
