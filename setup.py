"""Only the optional C accelerator of the outbreak scanner; everything else is in pyproject.toml.

`optional=True`: without a compiler or Python headers the install still succeeds and
maildoctor.outbreak.fastscan uses its pure-Python path (same results, slower).
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension("maildoctor.outbreak._scan", ["src/maildoctor/outbreak/_scan.c"], optional=True)])
