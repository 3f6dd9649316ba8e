"""`python -m cog.schema [--predict REF] [--train REF]`: the runtime reading, in the model's
environment (what `cog schema` runs in the local virtualenv or the container).

Run in the project directory; prints the document as Cog writes it. The CLI has already read
cog.yaml and made the static reading, so only the references are needed here (no cog.yaml
machinery). A problem is one line on stderr and status 1.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ..errors import CogError
from . import document_for, dumps, loaded


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cog.schema")
    parser.add_argument("--predict", default=None)
    parser.add_argument("--train", default=None)
    args = parser.parse_args(argv)
    project = Path.cwd()
    # What the model prints while it is imported goes to stderr: stdout is the document.
    document_out = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    try:
        predict = loaded.read_reference(project, args.predict, "predict") if args.predict else None
        train = loaded.read_reference(project, args.train, "train") if args.train else None
        document = document_for(predict, train)
    except CogError as exc:
        print(exc, file=sys.stderr)
        return 1
    except ImportError as exc:
        print(
            f"importing the model failed ({exc}); add what it needs to cog.yaml's build "
            "(python_packages or python_requirements), or use --static",
            file=sys.stderr,
        )
        return 1
    with document_out:
        document_out.write(dumps(document) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
