import sys

from vitviz.cli import main

sys.exit(main())
