"""Start-up shim that ``mi_tasks_lmeval.pth`` imports: installs mi-tasks' lm-eval import watcher.

Cheap by design (no torch, lm_eval or heavy mi_tasks import): the watcher only acts when lm-eval
itself is imported. What it changes in lm-eval, and why, is listed in
``mi_tasks/harness/lm_eval_compat.py``; ``install()`` there honours ``MI_TASKS_LMEVAL_AUTOLOAD=0``.
"""
try:
    from mi_tasks.harness.lm_eval_compat import install as _install
except ImportError:  # mi_tasks removed but this file left behind: nothing to hook
    _install = None
if _install is not None:
    _install()
