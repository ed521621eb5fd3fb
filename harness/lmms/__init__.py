"""lmms-eval and the harness: a finished run evaluated by lmms-eval's own evaluator on its tasks
(``model``, ``evaluate``), and lmms-eval's results read as scores (``results``)."""
