"""Only here to ship mi_tasks_lmeval.pth into site-packages (see mi_tasks/harness/lm_eval_compat.py); metadata is in pyproject.toml."""
import os

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildPyWithPth(build_py):
    def run(self):
        super().run()
        self.copy_file("mi_tasks_lmeval.pth", os.path.join(self.build_lib, "mi_tasks_lmeval.pth"))


setup(cmdclass={"build_py": BuildPyWithPth})
