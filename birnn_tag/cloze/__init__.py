"""The cloze task: text data, the word predictor, evaluation and prediction. Registered in
`birnn_tag.tasks`; nothing here is imported at package import."""
