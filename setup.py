"""Only the optional C accelerators (outbreak scanner, log needle search); the rest is in pyproject.toml.

`optional=True`: without a compiler or Python headers the install still succeeds and
maildoctor.outbreak.fastscan and maildoctor.logs.scan use their pure-Python paths (same results, slower).
"""

from setuptools import Extension, setup

setup(ext_modules=[
    Extension("maildoctor.outbreak._scan", ["src/maildoctor/outbreak/_scan.c"], optional=True),
    Extension("maildoctor.logs._find", ["src/maildoctor/logs/_find.c"], optional=True),
])
