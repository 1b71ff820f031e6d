import sys

from pxcy.cli import main

sys.exit(main())
