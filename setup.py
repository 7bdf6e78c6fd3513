"""Finds the packages and ships mi_tasks_lmeval.pth into site-packages; the rest of the metadata is in pyproject.toml.

Packages are found, not listed, so a new folder under ``mi_tasks/`` (a metric family's, say) ships
without an edit here (tests/test_packaging.py checks a built wheel). The task YAMLs live in
``task_configs/`` at the top of the repository and install as ``mi_tasks.task_configs``, which
discovery cannot see, so that one is named. The .pth file is why this is not pyproject-only (see
mi_tasks/harness/lm_eval_compat.py).
"""
import os

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py


class BuildPyWithPth(build_py):
    def run(self):
        super().run()
        self.copy_file("mi_tasks_lmeval.pth", os.path.join(self.build_lib, "mi_tasks_lmeval.pth"))


setup(packages=[*find_packages(include=["mi_tasks", "mi_tasks.*"]), "mi_tasks.task_configs"],
      cmdclass={"build_py": BuildPyWithPth})
