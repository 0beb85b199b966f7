"""The main application file of a Spark Operator application on this image: a `skillrank` command.

spark-submit runs a Python file, not a module, and puts the file's directory first on ``sys.path``; this
file lives outside the installed packages so that no module of theirs shadows another. The Spark
Operator's ``arguments`` are the command, e.g. ``["features"]``.
"""

import sys

from pipelines.cli import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
