"""Run inside the reference Cog 0.23.1 virtualenv: print its reading of a predictor as JSON.

<reference python> reference_reader.py PROJECT_DIR MODULE NAME
"""

import json
import sys

project, module, name = sys.argv[1:4]
sys.path.insert(0, project)

from cog import _inspector  # noqa: E402

info = _inspector.create_predictor(module, name)
inputs = {}
for field_name, field in info.inputs.items():
    inputs[field_name] = {
        "order": field.order,
        "type": field.type.json_type(),
        "default": field.default,
        "description": field.description,
        "ge": field.ge,
        "le": field.le,
        "min_length": field.min_length,
        "max_length": field.max_length,
        "regex": field.regex,
        "choices": field.choices,
    }
print(json.dumps({"inputs": inputs, "output": info.output.json_type()}, default=repr))
