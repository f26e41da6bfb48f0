"""`python -m course_utils.grading SUBMISSIONS/ --autograder ZIP --out grades.csv`: the class command."""

import sys

from .classroom import main

sys.exit(main())
