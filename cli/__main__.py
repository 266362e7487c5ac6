"""`python -m cli ...` is `fdp ...`."""
import sys

from cli import main

sys.exit(main.main())
