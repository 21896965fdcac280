"""A torchrun worker running birnn-tag's own CLI, with the faults a multi-node job meets:

- ``DIE_ONCE=PATH``: rank 1 exits at the start of its third epoch, the first time only (PATH
  remembers), as a worker on a lost machine would; torchrun then restarts every worker.
- ``OWN_FOLDER=1``: every rank writes to a run folder of its own (``output.dir`` + ``-rank-R``),
  as nodes without a shared file system would.
"""

import os
import sys
from pathlib import Path

from birnn_tag.cli.app import main
from birnn_tag.training import loop

rank = int(os.environ["RANK"])
if "DIE_ONCE" in os.environ:
    marker, epochs, train_epoch = Path(os.environ["DIE_ONCE"]), 0, loop.train_epoch

    def dying(*args, **kwargs):
        global epochs
        epochs += 1
        if rank == 1 and epochs == 3 and not marker.exists():
            marker.touch()
            os._exit(1)
        return train_epoch(*args, **kwargs)

    loop.train_epoch = dying
if os.environ.get("OWN_FOLDER"):
    sys.argv += ["--set", f"output.dir={os.environ['OWN_FOLDER']}-rank-{rank}"]
main()
