"""results.json: the results model as JSON."""

from __future__ import annotations

import json

from concgrade.results.model import Results


def render_json(results: Results) -> str:
    return json.dumps(results.to_dict(), indent=2, sort_keys=False, default=str) + "\n"
