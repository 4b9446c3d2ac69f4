"""`python -m gankit.cli ...`: the gankit command."""
import sys

from . import main

sys.exit(main())
