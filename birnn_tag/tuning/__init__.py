"""Hyperparameter search over training runs (``birnn-tag tune``, :func:`birnn_tag.tune`): a space
of config values (:mod:`~birnn_tag.tuning.space`) searched by Optuna (:mod:`~birnn_tag.tuning.study`)."""
