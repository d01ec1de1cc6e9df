"""Configuration, in one place: what the environment says, what the mapping file says, and who wins.

    environment.py  the environment's typed settings (Settings, DeliveryEnvironment), read once at cold start
    file.py         the mapping file: one typed, frozen ConfigFile, every section and reference validated
    resolve.py      command line > environment > file > default, field by field (the README's table)
    cost_centers.py, alerts.py, statements.py, delivery.py, prices.py, focus.py   the file's section models
    fields.py       the strict base model and the one check per kind of value (e-mail, host, ARN, ID, ...)
    yaml_source.py  YAML read with the line of every value, its traps refused
    problems.py     every problem with its place, in plain words, all listed at once
"""
