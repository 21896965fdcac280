"""Where and how a model runs: the device, the numeric precision, the CPU threads."""
