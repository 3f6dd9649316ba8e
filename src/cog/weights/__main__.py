"""`python -m cog.weights` runs pget."""

from .cli import main

main()
