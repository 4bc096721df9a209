#!/usr/bin/env python3
"""`python3 -m torch.distributed.run` (torchrun), working on Debian 12's torch 1.13 under Python 3.11.

There, every torchrun fails before starting a worker with "AttributeError: 'NoneType' object has
no attribute 'get'": Std.from_str("0") (the default --redirects/--tee) looks the value up by
iterating the IntFlag Std, and Python 3.11 no longer yields the zero flag NONE (nor the alias
ALL) when iterating, so it returns None. This launcher replaces that lookup with Std(int(v)) when
it is broken and then runs torchrun unchanged, with the same arguments. Newer torch (2.x) does
not need it; passing the same arguments to its torchrun works the same.
"""
import re
import sys

from torch.distributed import run
from torch.distributed.elastic.multiprocessing import api


def _from_str(text):
    if re.match(api._VALUE_REGEX, text):
        return api.Std(int(text))
    if re.match(api._MAPPING_REGEX, text):
        return {int(rank): api.Std(int(value)) for rank, value in (m.split(":") for m in text.split(","))}
    raise ValueError(f"{text} does not match: <{api._VALUE_REGEX}> or <{api._MAPPING_REGEX}>")


if api.Std.from_str("0") is None:
    api.Std.from_str = staticmethod(_from_str)

if __name__ == "__main__":
    sys.exit(run.main())
