"""`python -m gankit.data.audio_sets NAME OUT ...` (see main)."""
import sys

from . import main

sys.exit(main())
