"""The embedded demo, in one home: a generator of realistic bills (``synth``), the demo mapping
(``mapping.yaml``) and the demo job (``job.run_demo``), so one command shows the whole pipeline.

``synth`` also feeds the benchmark and the tests; nothing outside the demo, the benchmark and the tests uses it.
"""
