"""Evaluate a Dr. Seg policy: ReasonSeg gIoU/cIoU through SAM2 masks, COCO AP, counting.

The same as ``rankreward eval``; ``--help`` lists every option, ``--tiny`` runs all three tasks
offline on the CPU in seconds. See docs/evaluation.md and ``rankreward.evaluation.cli``.
"""

import sys

from rankreward.evaluation.cli import main

if __name__ == "__main__":
    sys.exit(main())
