"""Print what the `safetensors` package reads from a file (io_safetensors.noma)."""

import sys

from safetensors.numpy import load_file

for key, value in sorted(load_file(sys.argv[1]).items()):
    items = "" if value.ndim > 2 else f" {value.tolist()!r}"
    print(f"{key} {value.dtype} {value.shape}{items}")
