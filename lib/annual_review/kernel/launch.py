"""The command a build's kernel runs: ``python -m annual_review.kernel.launch -f <connection file> …``.

It is ipykernel's own launcher (``ipykernel_launcher``), run by the build's own Python —
never a kernel spec that another Python may have installed under the same name — and
without ipykernel's debugger: a build's kernels have no front end to debug them, and
loading the debugger (debugpy) is a tenth of each kernel's start. ipykernel runs without
it as it does where debugpy is not installed.

The connection file does not exist yet: the kernel binds its own ports, then writes it.
"""

import sys

if __name__ == "__main__":
    # As ipykernel_launcher does: the working folder (a notebooks folder) is not on the path while the kernel loads;
    # the kernel's shell puts it back for the notebook's code.
    if sys.path and sys.path[0] in ("", __import__("os").getcwd()):
        del sys.path[0]
    sys.modules["debugpy"] = None  # an import of debugpy now fails, and ipykernel leaves its debugger out

    from ipykernel.kernelapp import launch_new_instance

    # Once its ports are bound and its connection file written, and before it answers: the imports every section
    # makes (see annual_review.kernel.session.preload), while the build connects to it.
    launch_new_instance(exec_lines=["__import__('annual_review.kernel.session', fromlist=['_']).preload()"])
