import sys

from relaywire.cli import main

sys.exit(main())
