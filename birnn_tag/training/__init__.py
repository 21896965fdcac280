"""Training a model of any task: the loop (epochs, early stopping, checkpoints), one epoch's steps, several processes, and the progress events it reports."""
