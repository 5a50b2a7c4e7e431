"""pytest configuration for the whole repository (library tests and notebooks).

Fashion-MNIST is never downloaded in a test: this variable, inherited by the kernels
that nbval starts, turns downloads off; the files come from Debian's package.
"""

import os

from d2l_hpo.fashion_files import NO_DOWNLOAD_VARIABLE

os.environ[NO_DOWNLOAD_VARIABLE] = "1"
