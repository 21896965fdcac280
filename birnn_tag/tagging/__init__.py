"""The tagging task: schemes and transitions, data preparation, the BiLSTM(-CRF) tagger, inference,
evaluation and prediction. Registered in `birnn_tag.tasks`; nothing here is imported at package import."""
