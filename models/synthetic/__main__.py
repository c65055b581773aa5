"""``python -m models.synthetic``: generate the synthetic county (see ``cli.py``)."""

import sys

from models.synthetic.cli import main

if __name__ == "__main__":
    sys.exit(main())
