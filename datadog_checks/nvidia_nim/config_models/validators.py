"""Hooks the models look up by name, all optional:

* `initialize_shared(values)` / `initialize_instance(values)`: the raw mapping, before any field;
* `shared_<option>(value, field)` / `instance_<option>(value, field)`: one configured option, before
  its type is checked;
* `check_shared(model)` / `check_instance(model)`: the validated model.

None is defined: the integration's models add no rule to the field types, and the scraper's own
checks (`config.ScraperSettings`) run right after the models, at the same first run, with their own
messages.
"""
